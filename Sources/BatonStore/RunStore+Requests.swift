import BatonCore
import Crypto
import Foundation
import PostgresNIO

/// What became of a `pipeline.requested` event.
public enum RequestOutcome: Sendable, Hashable {
    /// A new run was created.
    case created(runID: UUID)
    /// The event (or its idempotency key) was seen before; nothing changed.
    case duplicate(runID: UUID?)
    /// The request was invalid; `run.rejected` was written with the reason.
    case rejected(reason: String)
}

extension RunStore {
    /// Handles a `pipeline.requested` event in one transaction: dedupe, validate, create the
    /// run and its stages, queue the first stages, and write the events.
    ///
    /// The request is checked against ``RequestLimits`` before anything is looked up, parsed or
    /// stored from it; the inbox row holds only the event id, and an id over
    /// ``RequestLimits/maxEventIDBytes`` is kept as its digest. Every rejection reason is cut to
    /// ``RequestLimits/maxReasonBytes``.
    ///
    /// - Parameters:
    ///   - consumer: the inbox consumer name (dedupe is per consumer and event id).
    ///   - policy: what a spec may ask for; a spec that breaks a rule is rejected, naming the
    ///     rule. Its inline-spec rule for Kafka applies to requests that the API or `baton submit`
    ///     did not accept (``accept(_:event:topic:caller:)``), which checked their sender.
    public func handleRequest(consumer: String, policy: SpecPolicy, event: CloudEvent) async throws
        -> RequestOutcome
    {
        let eventID = Self.inboxEventID(event)
        return try await transaction { connection in
            guard
                try await claimInbox(
                    consumer: consumer, eventID: eventID, eventType: event.type, runID: nil, on: connection)
            else {
                return .duplicate(runID: try await inboxRunID(consumer: consumer, eventID: eventID, on: connection))
            }
            let request: PipelineRequested
            do {
                request = try event.decode(PipelineRequested.self)
            } catch let error as EventError {
                return try await reject(
                    consumer: consumer, eventID: eventID, runID: nil, reason: error.message, on: connection)
            }
            if let violation = RequestLimits.violation(in: request) {
                return try await reject(
                    consumer: consumer, eventID: eventID, runID: request.runId, reason: violation, on: connection)
            }
            if let key = request.idempotencyKey {
                let existing = try await connection.query(
                    "SELECT id FROM runs WHERE idempotency_key = \(key)", logger: logger)
                for try await runID in existing.decode(UUID.self) {
                    try await markInbox(
                        consumer: consumer, eventID: eventID, outcome: "ignored",
                        reason: "idempotency key seen before", runID: runID, on: connection)
                    return .duplicate(runID: runID)
                }
            }
            let resolved: RunRequestResolver.Resolution
            switch try await resolve(request, on: connection) {
            case .success(let resolution):
                resolved = resolution
            case .failure(let rejection):
                return try await reject(
                    consumer: consumer, eventID: eventID, runID: request.runId, reason: rejection.reason, on: connection
                )
            }
            if request.spec != nil, try await !wasAccepted(event, runID: request.runId, on: connection),
                let refusal = policy.inlineSpecRefusal(scopes: nil)
            {
                return try await reject(
                    consumer: consumer, eventID: eventID, runID: request.runId, reason: refusal, on: connection)
            }
            if let violation = policy.violation(in: resolved.spec, params: resolved.params) {
                return try await reject(
                    consumer: consumer, eventID: eventID, runID: request.runId, reason: violation, on: connection)
            }
            let runID = request.runId ?? UUID()
            if try await runExists(runID, on: connection) {
                return try await reject(
                    consumer: consumer, eventID: eventID, runID: nil,
                    reason: "run id \(runID.lowercased) is already used",
                    on: connection)
            }
            try await createRun(runID, request: request, resolved: resolved, eventID: eventID, on: connection)
            try await markInbox(
                consumer: consumer, eventID: eventID, outcome: "applied", reason: nil, runID: runID, on: connection)
            return .created(runID: runID)
        }
    }

    /// The outcome recorded for the request event `eventID` from `source`, for `baton submit --wait`.
    public func requestStatus(consumer: String, source: String, eventID: String) async throws -> (
        outcome: String, reason: String?, runID: UUID?
    )? {
        let rows = try await client.statement(
            """
            SELECT outcome, reason, run_id FROM inbox
            WHERE consumer = \(consumer) AND event_id = \(Self.inboxEventID(source: source, id: eventID))
            """,
            logger: logger)
        for try await (outcome, reason, runID) in rows.decode((String, String?, UUID?).self) {
            return (outcome, reason, runID)
        }
        return nil
    }

    // MARK: - Steps

    /// Reads what the request names (a stored pipeline, the run a retry re-runs) and lets
    /// ``RunRequestResolver`` decide.
    private func resolve(
        _ request: PipelineRequested, on connection: DatabaseSession
    ) async throws -> Result<RunRequestResolver.Resolution, RunRequestResolver.Rejection> {
        var stored: RunRequestResolver.StoredPipeline?
        var original: RunRequestResolver.OriginalRun?
        switch RunRequestResolver.lookup(for: request) {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(.none):
            break
        case .success(.pipeline(let name, let version)):
            stored = try await pipeline(named: name, version: version, on: connection).map {
                RunRequestResolver.StoredPipeline(yaml: $0.yaml, version: $0.version)
            }
        case .success(.originalRun(let id)):
            let rows = try await connection.query(
                "SELECT spec_yaml, pipeline_version, params::text, state FROM runs WHERE id = \(id)", logger: logger)
            for try await (yaml, version, paramsJSON, state) in rows.decode((String, Int?, String, String).self) {
                let params = try JSONDecoder().decode([String: JSONValue].self, from: Data(paramsJSON.utf8))
                original = RunRequestResolver.OriginalRun(
                    id: id, yaml: yaml, version: version, params: params, isRunning: state == RunState.running.rawValue)
            }
        }
        return RunRequestResolver.resolve(request, stored: stored, original: original)
    }

    /// Marks which stages of a new run may not use the cache, and which reuse an attempt of the
    /// run it retries.
    private func setCachePolicies(
        _ runID: UUID, request: PipelineRequested, spec: PipelineSpec, on connection: DatabaseSession
    ) async throws {
        if request.noCache == true {
            try await connection.query(
                "UPDATE stages SET cache_disabled = true WHERE run_id = \(runID)", logger: logger)
        }
        guard let original = request.retryOf, let from = request.retryFrom else { return }
        var rerun: Set<String> = [from]
        for name in spec.graph.order where spec.graph.needs[name]?.contains(where: rerun.contains) == true {
            rerun.insert(name)
        }
        let reused = spec.stages.map(\.name).filter { !rerun.contains($0) }
        try await connection.query(
            "UPDATE stages SET cache_disabled = true WHERE run_id = \(runID) AND name = ANY(\(Array(rerun)))",
            logger: logger)
        try await connection.query(
            """
            UPDATE stages s SET reuse_attempt_id = (
                SELECT a.id FROM stage_attempts a
                WHERE a.run_id = \(original) AND a.stage = s.name AND a.state = 'succeeded'
                ORDER BY a.attempt DESC LIMIT 1)
            WHERE s.run_id = \(runID) AND s.name = ANY(\(reused))
            """, logger: logger)
        try await connection.query(
            "UPDATE runs SET retry_of = \(original), retry_from = \(from) WHERE id = \(runID)", logger: logger)
    }

    /// Whether `event` is a request the API or `baton submit` accepted (and so checked who sent it).
    private func wasAccepted(_ event: CloudEvent, runID: UUID?, on connection: DatabaseSession) async throws -> Bool {
        guard let runID else { return false }
        let rows = try await connection.query(
            """
            SELECT 1 FROM run_requests
            WHERE run_id = \(runID) AND event_id = \(event.id) AND event_source = \(event.source)
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    private func runExists(_ runID: UUID, on connection: DatabaseSession) async throws -> Bool {
        let rows = try await connection.query("SELECT 1 FROM runs WHERE id = \(runID)", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    private func createRun(
        _ runID: UUID, request: PipelineRequested,
        resolved: RunRequestResolver.Resolution, eventID: String,
        on connection: DatabaseSession
    ) async throws {
        let paramsJSON = String(decoding: try CloudEvent.encode(resolved.params), as: UTF8.self)
        let labelsJSON = String(decoding: try CloudEvent.encode(request.labels ?? [:]), as: UTF8.self)
        try await connection.query(
            """
            INSERT INTO runs (id, pipeline_name, pipeline_version, spec_yaml, params, labels, state, idempotency_key,
                              request_event_id, requested_by)
            VALUES (\(runID), \(resolved.spec.name), \(resolved.version), \(resolved.yaml), \(paramsJSON)::jsonb,
                    \(labelsJSON)::jsonb, 'running', \(request.idempotencyKey), \(eventID), \(request.requestedBy))
            """, logger: logger)
        for (position, stage) in resolved.spec.stages.enumerated() {
            try await connection.query(
                """
                INSERT INTO stages (run_id, name, position, kind, pool, needs, state)
                VALUES (\(runID), \(stage.name), \(position), \(stage.kind.rawValue), \(stage.pool), \(stage.needs), 'pending')
                """, logger: logger)
        }
        try await setCachePolicies(runID, request: request, spec: resolved.spec, on: connection)
        try await enqueueRunEvent(
            .runStarted, runID: runID,
            payload: RunNotice(runId: runID, state: RunState.running.rawValue, pipeline: resolved.spec.name),
            on: connection)
        let planner = RunPlanner(spec: resolved.spec, params: resolved.params)
        try await apply(planner.start(), runID: runID, spec: resolved.spec, on: connection)
    }

    /// Records the rejection (inbox and `run.rejected`), with the reason cut to
    /// ``RequestLimits/maxReasonBytes``.
    private func reject(
        consumer: String, eventID: String, runID: UUID?, reason: String, on connection: DatabaseSession
    ) async throws -> RequestOutcome {
        let reason = RequestLimits.boundedReason(reason)
        try await markInbox(
            consumer: consumer, eventID: eventID, outcome: "rejected", reason: reason, runID: nil, on: connection)
        let notice = RunNotice(runId: runID, state: "rejected", reason: reason, requestId: eventID)
        let rejected = try CloudEvent(
            source: source, type: .runRejected, subject: runID.map { "run/\($0.lowercased)" }, payload: notice)
        try await enqueue(rejected, topic: topics.runEvents, key: runID?.lowercased ?? eventID, on: connection)
        logger.info("request rejected", metadata: [LogKeys.eventID: "\(eventID)", LogKeys.reason: "\(reason)"])
        return .rejected(reason: reason)
    }

    private func inboxRunID(consumer: String, eventID: String, on connection: DatabaseSession) async throws -> UUID? {
        let rows = try await connection.query(
            "SELECT run_id FROM inbox WHERE consumer = \(consumer) AND event_id = \(eventID)", logger: logger)
        for try await runID in rows.decode(UUID?.self) { return runID }
        return nil
    }
}
