import BatonCore
import Crypto
import Foundation
import PostgresNIO

/// What became of a request handed to ``RunStore/accept(_:event:topic:caller:)``.
public enum AcceptedRequest: Sendable, Hashable {
    /// Written: the run will be made (or rejected, with a reason) by the coordinator.
    case accepted(runID: UUID)
    /// An earlier request with the same idempotency key and the same content holds this run id.
    case existing(runID: UUID)
}

/// A state a run has before the coordinator has made it.
public struct RequestedRunView: Sendable, Hashable, Codable {
    /// The run's id, lowercased.
    public var runId: String
    /// `requested` while the coordinator has not handled it, `rejected` when it refused it.
    public var state: String
    /// Why it was rejected.
    public var reason: String?
    /// Who asked.
    public var requestedBy: String
    /// When it was accepted.
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case state, reason
        case runId = "run_id"
        case requestedBy = "requested_by"
        case createdAt = "created_at"
    }
}

extension RunStore {
    /// Accepts a run request durably: the request row, its `pipeline.requested` outbox row (on
    /// `topic`, keyed by run id) and an audit row are written in one transaction, so that a
    /// request answered as accepted is never lost, even if the broker loses data; the relay
    /// publishes it and the coordinator makes the run.
    ///
    /// A request with an idempotency key used before gets the earlier run id back, when its
    /// content is the same.
    ///
    /// - Throws: ``StoreError`` `conflict` when the key was used for a different request.
    public func accept(_ request: PipelineRequested, event: CloudEvent, topic: String, caller: Caller)
        async throws -> AcceptedRequest
    {
        try await transaction { connection in
            try await accept(request, event: event, topic: topic, caller: caller, on: connection)
        }
    }

    /// ``accept(_:event:topic:caller:)`` in a transaction of the caller's (a schedule's tick and
    /// its run request commit together).
    func accept(
        _ request: PipelineRequested, event: CloudEvent, topic: String, caller: Caller,
        on connection: DatabaseSession
    ) async throws -> AcceptedRequest {
        guard let runID = request.runId else {
            throw StoreError.invalidConfiguration("an accepted request needs its run id")
        }
        let digest = try Self.digest(of: request)
        if let key = request.idempotencyKey {
            let earlier = try await connection.query(
                """
                SELECT run_id, body_sha256 FROM run_requests WHERE idempotency_key = \(key)
                UNION ALL
                SELECT id, NULL FROM runs WHERE idempotency_key = \(key)
                LIMIT 1
                """, logger: logger)
            for try await (earlierRunID, earlierDigest) in earlier.decode((UUID, String?).self) {
                guard earlierDigest == nil || earlierDigest == digest else {
                    throw StoreError.conflict(
                        "idempotency key '\(key.prefix(80))' was used for a different request (run \(earlierRunID.lowercased))"
                    )
                }
                return .existing(runID: earlierRunID)
            }
        }
        let inserted = try await connection.query(
            """
            INSERT INTO run_requests (run_id, event_id, event_source, idempotency_key, body_sha256, requested_by)
            VALUES (\(runID), \(event.id), \(event.source), \(request.idempotencyKey), \(digest),
                    \(request.requestedBy ?? caller.name))
            ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1
            """, logger: logger)
        var written = false
        for try await _ in inserted { written = true }
        guard written else {
            // A concurrent request with the same key committed first: ask again in a fresh transaction.
            throw StoreError(
                .conflict, "a request with the same idempotency key is being accepted; try again",
                isRetriable: true)
        }
        try await enqueue(event, topic: topic, key: runID.lowercased, on: connection)
        try await AccessStore(database: database).audit(
            caller, action: request.retryOf == nil ? "runs.submit" : "runs.retry", target: runID.lowercased,
            outcome: "accepted",
            detail: request.retryOf.map { ["retry_of": .string($0.lowercased)] } ?? [:], on: connection)
        return .accepted(runID: runID)
    }

    /// The digest of a request's content (run id and requester left out): one idempotency key
    /// answers the same run only for the same content.
    static func digest(of request: PipelineRequested) throws -> String {
        var content = request
        content.runId = nil
        content.requestedBy = nil
        return SHA256.hash(data: try CloudEvent.encode(content)).map { String(format: "%02x", $0) }.joined()
    }

    /// A run that was accepted but has not been made (yet): `requested`, or `rejected` with the
    /// coordinator's reason; nil when no request has this run id or the run exists.
    public func requestedRun(_ runID: UUID, consumer: String) async throws -> RequestedRunView? {
        let rows = try await client.statement(
            """
            SELECT r.requested_by, r.created_at, i.outcome, i.reason
            FROM run_requests r
            LEFT JOIN inbox i ON i.consumer = \(consumer) AND i.event_id = CASE
                WHEN octet_length(r.event_source || ' ' || r.event_id) > \(RequestLimits.maxEventIDBytes)
                THEN 'sha256:' || encode(sha256(convert_to(r.event_source || ' ' || r.event_id, 'UTF8')), 'hex')
                ELSE r.event_source || ' ' || r.event_id END
            WHERE r.run_id = \(runID) AND NOT EXISTS (SELECT 1 FROM runs WHERE id = \(runID))
            """, logger: logger)
        for try await (requestedBy, createdAt, outcome, reason) in rows.decode((String, Date, String?, String?).self) {
            return RequestedRunView(
                runId: runID.lowercased, state: outcome == "rejected" ? "rejected" : "requested",
                reason: outcome == "rejected" ? reason : nil, requestedBy: requestedBy, createdAt: createdAt)
        }
        return nil
    }
}

/// What became of a cancel asked for through ``RunStore/requestCancel(_:event:caller:)``.
public enum CancelRequestOutcome: Sendable, Hashable {
    /// `run.cancel` is written; the coordinator stops the run.
    case requested
    /// No run has this id.
    case notFound
    /// The run has already ended in this state.
    case ended(RunState)
}

extension RunStore {
    /// Writes a `run.cancel` event (`event`, on the run events topic) and its audit row in one
    /// transaction, when the run exists and is still running.
    public func requestCancel(_ runID: UUID, event: CloudEvent, caller: Caller) async throws -> CancelRequestOutcome {
        try await transaction { connection in
            let rows = try await connection.query("SELECT state FROM runs WHERE id = \(runID)", logger: logger)
            var state: RunState?
            for try await text in rows.decode(String.self) { state = RunState(rawValue: text) ?? .failed }
            guard let state else { return .notFound }
            guard !state.isTerminal else { return .ended(state) }
            try await enqueue(event, topic: topics.runEvents, key: runID.lowercased, on: connection)
            try await AccessStore(database: database).audit(
                caller, action: "runs.cancel", target: runID.lowercased, outcome: "requested", detail: [:],
                on: connection)
            return .requested
        }
    }
}

extension RunStore {
    /// What the coordinator would reject `request` for, checked before it is accepted so that
    /// the caller hears at once: its bounds, the spec (inline, or the applied pipeline's), the
    /// params against it, and the spec against `policy` when one is given (the serving process
    /// has it; the CLI leaves it to the coordinator). Nil when it would pass these checks (the
    /// coordinator still checks a retry's run).
    public func problem(with request: PipelineRequested, policy: SpecPolicy? = nil) async throws -> String? {
        if let violation = RequestLimits.violation(in: request) { return violation }
        guard request.retryOf == nil else { return nil }
        let yaml: String
        switch (request.spec, request.pipeline) {
        case (let spec?, nil):
            yaml = spec
        case (nil, let name?):
            guard let stored = try await pipeline(named: name, version: request.version) else {
                return request.version.map { "pipeline '\(name)' has no version \($0)" }
                    ?? "unknown pipeline '\(name)': apply it first with `baton pipelines apply FILE`, or send the spec"
            }
            yaml = stored.yaml
        default:
            return "give exactly one of pipeline (an applied pipeline's name) and spec (inline YAML)"
        }
        do {
            let spec = try PipelineSpecParser.parse(yaml)
            let params = try ParamResolver.resolve(request.params ?? [:], declared: spec.params)
            return policy?.violation(in: spec, params: params)
        } catch let error as SpecError {
            return error.description
        } catch let error as ParamResolver.ParamError {
            return error.message
        }
    }
}
