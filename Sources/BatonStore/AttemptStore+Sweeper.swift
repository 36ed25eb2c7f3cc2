import BatonCore
import Foundation
import PostgresNIO

/// What one sweep did.
public struct SweepReport: Sendable, Hashable {
    /// Running attempts whose lease expired, now `lost`.
    public var lost = 0
    /// Running attempts past their deadline, now `timed_out`.
    public var timedOut = 0
    /// Queued attempts nobody claimed, whose `stage.ready` was written again.
    public var redrivenReady = 0
    /// Ended attempts the coordinator never acted on, whose outcome was written again.
    public var redrivenOutcomes = 0
    /// Queued attempts failed because no live worker serves their pool.
    public var unserved = 0

    /// A report of a sweep that did nothing.
    public init() {}

    /// Whether the sweep changed anything.
    public var isEmpty: Bool { lost + timedOut + redrivenReady + redrivenOutcomes + unserved == 0 }
}

extension AttemptStore {
    /// Re-drives everything stuck, so a lost message or a dead worker delays a run but never loses it.
    ///
    /// - Parameters:
    ///   - redriveAfter: how long a queued attempt or an unhandled outcome may wait before its
    ///     event is written again.
    ///   - queueTimeout: how long an attempt may wait in a pool that no live worker serves.
    ///   - workerTimeout: how recent a worker's heartbeat must be for it to count as live.
    public func sweep(
        redriveAfter: Duration, queueTimeout: Duration, workerTimeout: Duration, limit: Int = 100
    ) async throws -> SweepReport {
        var report = SweepReport()
        report.timedOut = try await endRunningAttempts(
            byDeadline: true, state: .timedOut, errorType: "timeout",
            error: "exceeded the stage timeout", limit: limit)
        report.lost = try await endRunningAttempts(
            byDeadline: false, state: .lost, errorType: "worker_lost",
            error: "the worker's lease expired (worker died or stalled)", limit: limit)
        report.redrivenReady = try await redriveQueued(after: redriveAfter, limit: limit)
        report.redrivenOutcomes = try await redriveOutcomes(after: redriveAfter, limit: limit)
        report.unserved = try await failUnservedAttempts(
            queueTimeout: queueTimeout, workerTimeout: workerTimeout, limit: limit)
        return report
    }

    /// Records that `instance` runs a stage worker for each of `pools` now.
    public func recordWorkerHeartbeat(instance: String, pools: [String]) async throws {
        try await client.statement(
            """
            INSERT INTO worker_heartbeats (instance, pool, seen_at) SELECT \(instance), unnest(\(pools)::text[]), now()
            ON CONFLICT (instance, pool) DO UPDATE SET seen_at = now()
            """, logger: logger)
    }

    /// Fails queued attempts that waited `queueTimeout` in a pool no worker heartbeat was seen for
    /// within `workerTimeout` (a typo in `pool:`, or a pool nobody deployed), with error type
    /// `no_worker`. A busy pool is not affected: its workers are live, and its attempts wait their turn.
    private func failUnservedAttempts(queueTimeout: Duration, workerTimeout: Duration, limit: Int) async throws -> Int {
        let waited = DurationParsing.format(queueTimeout)
        return try await transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE stage_attempts a SET state = 'failed', lease_epoch = a.lease_epoch + 1, finished_at = now(),
                    error = 'no worker for pool ' || a.pool || ' (waited ' || \(waited) || '; start a worker with --pools '
                        || a.pool || ', or fix the stage''s pool)',
                    error_type = \(RunPlanner.noWorkerErrorType)
                WHERE a.id IN (
                    SELECT q.id FROM stage_attempts q
                    WHERE q.state = 'queued'
                      AND q.available_at < now() - make_interval(secs => \(queueTimeout.secondsDouble))
                      AND NOT EXISTS (
                          SELECT 1 FROM worker_heartbeats h
                          WHERE h.pool = q.pool AND h.seen_at > now() - make_interval(secs => \(workerTimeout.secondsDouble)))
                    LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING a.id, a.run_id, a.stage, a.attempt, a.error
                """, logger: logger)
            var count = 0
            for try await (id, runID, stage, attempt, message) in rows.decode((UUID, UUID, String, Int, String).self) {
                let outcome = StageOutcome(
                    runId: runID, stage: stage, attemptId: id, attempt: attempt, state: .failed, error: message,
                    errorType: RunPlanner.noWorkerErrorType)
                try await enqueueRunEvent(.stageFailed, runID: runID, stage: stage, payload: outcome, on: connection)
                // Its stage.ready events (the first and the re-sent ones) have nobody to read them,
                // and a pool nobody serves may have no topic: drop them rather than retry them.
                try await connection.query(
                    """
                    DELETE FROM outbox
                    WHERE published_at IS NULL AND key = \(runID.lowercased) AND event_type = 'stage.ready'
                      AND lower(convert_from(payload, 'UTF8')::jsonb ->> 'attempt_id') = \(id.lowercased)
                    """, logger: logger)
                logger.warning(
                    "queued attempt failed: no worker serves its pool",
                    metadata: [LogKeys.runID: "\(runID.lowercased)", LogKeys.stage: "\(stage)"])
                count += 1
            }
            try await connection.query(
                "DELETE FROM worker_heartbeats WHERE seen_at < now() - interval '1 day'", logger: logger)
            return count
        }
    }

    /// Ends running attempts past their deadline (`byDeadline`) or lease, bumping the epoch so
    /// their worker is fenced out, and writes their outcome. Ray attempts are not ended here:
    /// their job outlives the worker, so a watcher adopts them and enforces their deadline.
    private func endRunningAttempts(
        byDeadline: Bool, state: AttemptState, errorType: String, error: String, limit: Int
    ) async throws -> Int {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE stage_attempts a SET state = \(state.rawValue), lease_epoch = a.lease_epoch + 1,
                    finished_at = now(), error = \(error) || ' (worker ' || coalesce(a.lease_owner, '?') || ')',
                    error_type = \(errorType)
                WHERE a.id IN (
                    SELECT id FROM stage_attempts
                    WHERE state = 'running' AND kind <> 'ray'
                      AND CASE WHEN \(byDeadline) THEN deadline_at < now() ELSE lease_expires_at < now() END
                    ORDER BY started_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING a.id, a.run_id, a.stage, a.attempt, a.error
                """, logger: logger)
            var count = 0
            for try await (id, runID, stage, attempt, message) in rows.decode((UUID, UUID, String, Int, String).self) {
                let outcome = StageOutcome(
                    runId: runID, stage: stage, attemptId: id, attempt: attempt, state: state, error: message,
                    errorType: errorType)
                try await enqueueRunEvent(.stageFailed, runID: runID, stage: stage, payload: outcome, on: connection)
                logger.warning(
                    "attempt ended by sweeper",
                    metadata: [
                        LogKeys.runID: "\(runID.lowercased)", LogKeys.stage: "\(stage)",
                        LogKeys.state: "\(state.rawValue)",
                    ])
                count += 1
            }
            return count
        }
    }

    private func redriveQueued(after: Duration, limit: Int) async throws -> Int {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE stage_attempts a SET redriven_at = now()
                WHERE a.id IN (
                    SELECT id FROM stage_attempts
                    WHERE state = 'queued'
                      AND coalesce(redriven_at, available_at) < now() - make_interval(secs => \(after.secondsDouble))
                    LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING a.id, a.run_id, a.stage, a.attempt, a.pool,
                    (SELECT kind FROM stages s WHERE s.run_id = a.run_id AND s.name = a.stage)
                """, logger: logger)
            var count = 0
            for try await (id, runID, stage, attempt, pool, kind) in rows.decode(
                (UUID, UUID, String, Int, String, String).self)
            {
                let ready = StageReady(
                    runId: runID, stage: stage, attemptId: id, attempt: attempt, pool: pool,
                    kind: StageKind(rawValue: kind) ?? .noop)
                let event = try CloudEvent(
                    source: source, type: .stageReady, subject: "run/\(runID.lowercased)/stage/\(stage)", payload: ready
                )
                try await enqueue(event, topic: topics.stageReady(pool: pool), key: runID.lowercased, on: connection)
                count += 1
            }
            return count
        }
    }

    private func redriveOutcomes(after: Duration, limit: Int) async throws -> Int {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                WITH stuck AS (
                    SELECT a.id FROM stage_attempts a
                    JOIN stages s ON s.run_id = a.run_id AND s.name = a.stage
                    JOIN runs r ON r.id = a.run_id
                    WHERE r.state = 'running' AND s.state IN ('running', 'ready') AND s.attempts = a.attempt
                      AND a.state IN ('succeeded', 'failed', 'timed_out', 'lost')
                      AND coalesce(a.redriven_at, a.finished_at) < now() - make_interval(secs => \(after.secondsDouble))
                    LIMIT \(limit) FOR UPDATE OF a SKIP LOCKED)
                UPDATE stage_attempts a SET redriven_at = now() FROM stuck WHERE a.id = stuck.id
                RETURNING a.id, a.run_id, a.stage, a.attempt, a.state, a.error, a.error_type, a.cached_from
                """, logger: logger)
            var count = 0
            for try await (id, runID, stage, attempt, state, error, errorType, cachedFrom) in rows.decode(
                (UUID, UUID, String, Int, String, String?, String?, UUID?).self)
            {
                let attemptState = AttemptState(rawValue: state) ?? .failed
                let outcome = StageOutcome(
                    runId: runID, stage: stage, attemptId: id, attempt: attempt, state: attemptState, error: error,
                    errorType: errorType, cachedFrom: cachedFrom)
                try await enqueueRunEvent(
                    EventType.outcome(of: attemptState, cached: cachedFrom != nil), runID: runID, stage: stage,
                    payload: outcome, on: connection)
                count += 1
            }
            return count
        }
    }
}
