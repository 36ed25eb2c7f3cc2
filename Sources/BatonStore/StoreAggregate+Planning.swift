import BatonCore
import Foundation
import PostgresNIO

/// An attempt a planner's actions queued: in which pool, and after what delay.
struct PlannedAttempt: Sendable {
    var attempt: QueuedAttempt
    var pool: String
    var delay: Duration
}

extension StoreAggregate {
    /// Applies a planner's actions to a run inside the caller's transaction.
    ///
    /// - Returns: the attempts the actions queued, in order.
    @discardableResult
    func apply(
        _ actions: [RunPlanner.Action], runID: UUID, spec: PipelineSpec?, on connection: DatabaseSession
    ) async throws -> [PlannedAttempt] {
        var planned: [PlannedAttempt] = []
        for action in actions {
            switch action {
            case .queueAttempt(let stageName, let attempt, let delay):
                guard let stage = spec?.stage(named: stageName) else { continue }
                planned.append(
                    try await queueAttempt(stage, attempt: attempt, delay: delay, runID: runID, on: connection))
            case .skipStage(let stage, let reason):
                try await connection.query(
                    """
                    UPDATE stages SET state = 'skipped', reason = \(reason), finished_at = now()
                    WHERE run_id = \(runID) AND name = \(stage) AND state = 'pending'
                    """, logger: logger)
                try await enqueueRunEvent(
                    .stageSkipped, runID: runID, stage: stage,
                    payload: RunNotice(runId: runID, state: StageState.skipped.rawValue, stage: stage, reason: reason),
                    on: connection)
            case .finishStage(let stage, let state, let error):
                try await connection.query(
                    """
                    UPDATE stages SET state = \(state.rawValue), reason = \(error), finished_at = now()
                    WHERE run_id = \(runID) AND name = \(stage)
                    """, logger: logger)
            case .cancelUnfinishedStages(let reason):
                // Bumping the epoch fences out any worker still executing a cancelled attempt.
                try await connection.query(
                    """
                    UPDATE stage_attempts SET state = 'cancelled', lease_epoch = lease_epoch + 1, finished_at = now(),
                        error = \(reason), error_type = 'cancelled'
                    WHERE run_id = \(runID) AND state IN ('queued', 'running')
                    """, logger: logger)
                try await connection.query(
                    """
                    UPDATE stages SET state = 'cancelled', reason = \(reason), finished_at = now()
                    WHERE run_id = \(runID) AND state IN ('pending', 'ready', 'running')
                    """, logger: logger)
            case .finishRun(let state, let reason):
                let rows = try await connection.query(
                    """
                    UPDATE runs SET state = \(state.rawValue), reason = \(reason), finished_at = now()
                    WHERE id = \(runID) AND state = 'running' RETURNING pipeline_name
                    """, logger: logger)
                for try await pipeline in rows.decode(String.self) {
                    let type: EventType =
                        switch state {
                        case .succeeded: .runSucceeded
                        case .failed: .runFailed
                        case .rejectedByGate: .runRejectedByGate
                        case .cancelled, .running: .runCancelled
                        }
                    try await enqueueRunEvent(
                        type, runID: runID,
                        payload: RunNotice(runId: runID, state: state.rawValue, pipeline: pipeline, reason: reason),
                        on: connection)
                }
            }
        }
        return planned
    }

    /// Marks the stage ready, inserts its attempt and the `stage.ready` event: one statement.
    private func queueAttempt(
        _ stage: StageSpec, attempt: Int, delay: Duration, runID: UUID, on connection: DatabaseSession
    ) async throws -> PlannedAttempt {
        let attemptID = UUID()
        let ready = StageReady(
            runId: runID, stage: stage.name, attemptId: attemptID, attempt: attempt, pool: stage.pool, kind: stage.kind)
        let event = try CloudEvent(
            source: source, type: .stageReady, subject: "run/\(runID.lowercased)/stage/\(stage.name)", payload: ready)
        try await connection.query(
            """
            WITH staged AS (
                UPDATE stages SET state = 'ready', attempts = \(attempt)
                WHERE run_id = \(runID) AND name = \(stage.name) AND state IN ('pending', 'running')
            ), queued AS (
                INSERT INTO stage_attempts (id, run_id, stage, attempt, state, kind, pool, timeout_ms, available_at)
                VALUES (\(attemptID), \(runID), \(stage.name), \(attempt), 'queued', \(stage.kind.rawValue),
                        \(stage.pool), \(stage.timeout.milliseconds), now() + make_interval(secs => \(delay.secondsDouble)))
            )
            INSERT INTO outbox (event_id, event_type, source, subject, topic, key, payload, available_at, traceparent)
            VALUES (\(event.id), \(event.type), \(event.source), \(event.subject), \(topics.stageReady(pool: stage.pool)),
                    \(runID.lowercased), \(ByteBuffer(bytes: event.data)),
                    now() + make_interval(secs => \(delay.secondsDouble)),
                    \(Self.traceparent(of: event)))
            """, logger: logger)
        return PlannedAttempt(
            attempt: QueuedAttempt(id: attemptID, runID: runID, stage: stage.name, attempt: attempt), pool: stage.pool,
            delay: delay)
    }
}
