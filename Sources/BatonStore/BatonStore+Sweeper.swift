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

    public init() {}

    /// Whether the sweep changed anything.
    public var isEmpty: Bool { lost + timedOut + redrivenReady + redrivenOutcomes == 0 }
}

extension BatonStore {
    /// Re-drives everything stuck, so a lost message or a dead worker delays a run but never loses it.
    ///
    /// - Parameter redriveAfter: how long a queued attempt or an unhandled outcome may wait
    ///   before its event is written again.
    public func sweep(redriveAfter: Duration, limit: Int = 100) async throws -> SweepReport {
        var report = SweepReport()
        report.timedOut = try await endRunningAttempts(
            byDeadline: true, state: .timedOut, errorType: "timeout",
            error: "exceeded the stage timeout", limit: limit)
        report.lost = try await endRunningAttempts(
            byDeadline: false, state: .lost, errorType: "worker_lost",
            error: "the worker's lease expired (worker died or stalled)", limit: limit)
        report.redrivenReady = try await redriveQueued(after: redriveAfter, limit: limit)
        report.redrivenOutcomes = try await redriveOutcomes(after: redriveAfter, limit: limit)
        return report
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
                    metadata: ["run_id": "\(runID.lowercased)", "stage": "\(stage)", "state": "\(state.rawValue)"])
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
                    WHERE r.state = 'running' AND s.state = 'running' AND s.attempts = a.attempt
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
