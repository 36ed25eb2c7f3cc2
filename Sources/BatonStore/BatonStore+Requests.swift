import BatonCore
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

extension BatonStore {
    /// Handles a `pipeline.requested` event in one transaction: dedupe, validate, create the
    /// run and its stages, queue the first stages, and write the events.
    ///
    /// - Parameter consumer: the inbox consumer name (dedupe is per consumer and event id).
    public func handleRequest(consumer: String, event: CloudEvent) async throws -> RequestOutcome {
        try await transaction { connection in
            guard
                try await claimInbox(
                    consumer: consumer, eventID: event.id, eventType: event.type, runID: nil, on: connection)
            else {
                return .duplicate(runID: try await inboxRunID(consumer: consumer, eventID: event.id, on: connection))
            }
            let request: PipelineRequested
            do {
                request = try event.decode(PipelineRequested.self)
            } catch let error as EventError {
                return try await reject(
                    consumer: consumer, event: event, runID: nil, reason: error.message, on: connection)
            }
            if let key = request.idempotencyKey {
                guard key.utf8.count <= 256 else {
                    return try await reject(
                        consumer: consumer, event: event, runID: request.runId,
                        reason: "idempotency_key is longer than 256 bytes", on: connection)
                }
                let existing = try await connection.query(
                    "SELECT id FROM runs WHERE idempotency_key = \(key)", logger: logger)
                for try await runID in existing.decode(UUID.self) {
                    try await markInbox(
                        consumer: consumer, eventID: event.id, outcome: "ignored",
                        reason: "idempotency key seen before", runID: runID, on: connection)
                    return .duplicate(runID: runID)
                }
            }
            let resolved: (spec: PipelineSpec, yaml: String, version: Int?, params: [String: JSONValue])
            do {
                resolved = try await resolve(request, on: connection)
            } catch let error as RequestRejection {
                return try await reject(
                    consumer: consumer, event: event, runID: request.runId, reason: error.reason, on: connection)
            }
            let runID = request.runId ?? UUID()
            if try await runExists(runID, on: connection) {
                return try await reject(
                    consumer: consumer, event: event, runID: nil, reason: "run id \(runID.lowercased) is already used",
                    on: connection)
            }
            try await createRun(runID, request: request, resolved: resolved, eventID: event.id, on: connection)
            try await markInbox(
                consumer: consumer, eventID: event.id, outcome: "applied", reason: nil, runID: runID, on: connection)
            return .created(runID: runID)
        }
    }

    /// The outcome recorded for a request event, for `baton submit --wait`.
    public func requestStatus(consumer: String, eventID: String) async throws -> (
        outcome: String, reason: String?, runID: UUID?
    )? {
        let rows = try await client.query(
            "SELECT outcome, reason, run_id FROM inbox WHERE consumer = \(consumer) AND event_id = \(eventID)",
            logger: logger)
        for try await (outcome, reason, runID) in rows.decode((String, String?, UUID?).self) {
            return (outcome, reason, runID)
        }
        return nil
    }

    // MARK: - Steps

    private struct RequestRejection: Error {
        var reason: String
    }

    private func resolve(
        _ request: PipelineRequested, on connection: PostgresConnection
    ) async throws -> (spec: PipelineSpec, yaml: String, version: Int?, params: [String: JSONValue]) {
        let yaml: String
        var version: Int?
        switch (request.spec, request.pipeline) {
        case (let inline?, _):
            yaml = inline
        case (nil, let name?):
            guard let stored = try await pipeline(named: name, version: request.version, on: connection) else {
                let which = request.version.map { "version \($0) of " } ?? ""
                throw RequestRejection(reason: "unknown pipeline: no \(which)'\(name)' was applied")
            }
            yaml = stored.yaml
            version = stored.version
        case (nil, nil):
            throw RequestRejection(reason: "request names no pipeline: set 'pipeline' or 'spec'")
        }
        let spec: PipelineSpec
        do {
            spec = try PipelineSpecParser.parse(yaml)
        } catch {
            throw RequestRejection(reason: error.description)
        }
        if let name = request.pipeline, request.spec != nil, name != spec.name {
            throw RequestRejection(reason: "request names pipeline '\(name)' but the spec is '\(spec.name)'")
        }
        do {
            let params = try ParamResolver.resolve(request.params ?? [:], declared: spec.params)
            return (spec, yaml, version, params)
        } catch {
            throw RequestRejection(reason: error.message)
        }
    }

    private func runExists(_ runID: UUID, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("SELECT 1 FROM runs WHERE id = \(runID)", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    private func createRun(
        _ runID: UUID, request: PipelineRequested,
        resolved: (spec: PipelineSpec, yaml: String, version: Int?, params: [String: JSONValue]), eventID: String,
        on connection: PostgresConnection
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
        try await enqueueRunEvent(
            .runStarted, runID: runID,
            payload: RunNotice(runId: runID, state: RunState.running.rawValue, pipeline: resolved.spec.name),
            on: connection)
        let planner = RunPlanner(spec: resolved.spec, params: resolved.params)
        try await apply(planner.start(), runID: runID, spec: resolved.spec, on: connection)
    }

    private func reject(
        consumer: String, event: CloudEvent, runID: UUID?, reason: String, on connection: PostgresConnection
    ) async throws -> RequestOutcome {
        try await markInbox(
            consumer: consumer, eventID: event.id, outcome: "rejected", reason: reason, runID: nil, on: connection)
        let notice = RunNotice(runId: runID, state: "rejected", reason: reason, requestId: event.id)
        let rejected = try CloudEvent(
            source: source, type: .runRejected, subject: runID.map { "run/\($0.lowercased)" }, payload: notice)
        try await enqueue(rejected, topic: topics.runEvents, key: runID?.lowercased ?? event.id, on: connection)
        logger.info("request rejected", metadata: ["event_id": "\(event.id)", "reason": "\(reason)"])
        return .rejected(reason: reason)
    }

    private func inboxRunID(consumer: String, eventID: String, on connection: PostgresConnection) async throws -> UUID?
    {
        let rows = try await connection.query(
            "SELECT run_id FROM inbox WHERE consumer = \(consumer) AND event_id = \(eventID)", logger: logger)
        for try await runID in rows.decode(UUID?.self) { return runID }
        return nil
    }
}
