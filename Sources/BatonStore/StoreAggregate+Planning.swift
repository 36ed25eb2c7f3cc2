import BatonCore
import Foundation
import PostgresNIO

/// An attempt a ``DirectClaimant`` claimed in the statement that queued it: which, in which pool,
/// and its lease (times by the database's clock).
struct DirectClaim: Sendable {
    var attempt: QueuedAttempt
    var pool: String
    var epoch: Int64
    var deadline: Date
    var startedAt: Date
}

extension StoreAggregate {
    /// Applies a planner's actions to a run inside the caller's transaction. With a `claimant`,
    /// the first attempt queued in its pool and due at once is claimed for it in the same
    /// statement (no `stage.ready` event: nobody else is to claim it).
    ///
    /// - Returns: the attempt claimed for `claimant`; `nil` when none was.
    @discardableResult
    func apply(
        _ actions: [RunPlanner.Action], runID: UUID, spec: PipelineSpec?, claimant: DirectClaimant? = nil,
        on connection: DatabaseSession
    ) async throws -> DirectClaim? {
        var claimed: DirectClaim?
        for action in actions {
            switch action {
            case .queueAttempt(let stageName, let attempt, let delay):
                guard let stage = spec?.stage(named: stageName) else { continue }
                if claimed == nil, let claimant, claimant.pool == stage.pool, delay <= .zero {
                    claimed = try await claimAtOnce(
                        stage, attempt: attempt, runID: runID, for: claimant, on: connection)
                    continue
                }
                try await queueAttempt(stage, attempt: attempt, delay: delay, runID: runID, on: connection)
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
        return claimed
    }

    /// Marks the stage ready, inserts its attempt and the `stage.ready` event: one statement.
    private func queueAttempt(
        _ stage: StageSpec, attempt: Int, delay: Duration, runID: UUID, on connection: DatabaseSession
    ) async throws {
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
    }

    /// Inserts the stage's attempt claimed by `claimant` (running, leased, epoch 1), marks the stage
    /// running and writes its `stage.started` event: one statement, the claim of
    /// ``AttemptStore/claimAttempt(_:owner:lease:)`` made in the transaction that queues the attempt.
    /// Its times are the statement's (`clock_timestamp()`), not the transaction's start, which
    /// came before the outcome it follows was read.
    private func claimAtOnce(
        _ stage: StageSpec, attempt: Int, runID: UUID, for claimant: DirectClaimant, on connection: DatabaseSession
    ) async throws -> DirectClaim? {
        let attemptID = UUID()
        let started = try runEvent(
            .stageStarted, runID: runID, stage: stage.name,
            payload: StageOutcome(
                runId: runID, stage: stage.name, attemptId: attemptID, attempt: attempt, state: .running))
        let rows = try await connection.query(
            """
            WITH clock AS (
                SELECT clock_timestamp() AS now
            ), staged AS (
                UPDATE stages SET state = 'running', attempts = \(attempt),
                    started_at = coalesce(started_at, (SELECT now FROM clock))
                WHERE run_id = \(runID) AND name = \(stage.name) AND state IN ('pending', 'running')
            ), claimed AS (
                INSERT INTO stage_attempts (id, run_id, stage, attempt, state, kind, pool, timeout_ms, lease_owner,
                                            lease_expires_at, lease_epoch, queued_at, available_at, started_at,
                                            deadline_at)
                SELECT \(attemptID), \(runID), \(stage.name), \(attempt), 'running', \(stage.kind.rawValue),
                    \(stage.pool), \(stage.timeout.milliseconds), \(claimant.owner),
                    clock.now + make_interval(secs => \(claimant.lease.secondsDouble)), 1, clock.now, clock.now,
                    clock.now, clock.now + \(stage.timeout.milliseconds) * interval '1 millisecond'
                FROM clock
                RETURNING lease_epoch, deadline_at, started_at
            ), announced AS (
                INSERT INTO outbox (event_id, event_type, source, subject, topic, key, payload, available_at, traceparent)
                VALUES (\(started.id), \(started.type), \(started.source), \(started.subject), \(topics.runEvents),
                        \(runID.lowercased), \(ByteBuffer(bytes: started.data)), now(), \(Self.traceparent(of: started)))
            )
            SELECT lease_epoch, deadline_at, started_at FROM claimed
            """, logger: logger)
        for try await (epoch, deadline, startedAt) in rows.decode((Int64, Date, Date).self) {
            return DirectClaim(
                attempt: QueuedAttempt(id: attemptID, runID: runID, stage: stage.name, attempt: attempt),
                pool: stage.pool, epoch: epoch, deadline: deadline, startedAt: startedAt)
        }
        return nil
    }
}
