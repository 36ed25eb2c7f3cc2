import BatonCore
import Foundation
import PostgresNIO

/// The engine's backlog now, as the database sees it: what `/metrics` reports as gauges.
public struct EngineSnapshot: Sendable, Hashable {
    /// Attempts of one worker pool queued or running now.
    public struct Pool: Sendable, Hashable {
        /// The pool's name.
        public var pool: String
        /// Attempts waiting for a worker.
        public var queued: Int
        /// Attempts a worker holds.
        public var running: Int

        /// Pool `pool` with `queued` and `running` attempts.
        public init(pool: String, queued: Int, running: Int) {
            self.pool = pool
            self.queued = queued
            self.running = running
        }
    }

    /// Outbox rows not published and not parked.
    public var outboxPending: Int
    /// Age of the oldest of them, in seconds; 0 when none.
    public var outboxOldestPendingSeconds: Double
    /// Outbox rows parked.
    public var outboxParked: Int
    /// Runs running.
    public var runsRunning: Int
    /// Running runs with no attempt queued or running and nothing finished within the stall window.
    public var runsStalled: Int
    /// Age of the oldest change the MLflow mirror has not brought to MLflow, in seconds; 0 when none.
    public var mirrorLagSeconds: Double
    /// Each pool with an attempt queued or running.
    public var pools: [Pool]
}

extension AttemptStore {
    /// The engine's backlog now: one statement for the totals, one for the pools.
    ///
    /// - Parameter stalledAfter: how long a running run may go without any attempt in flight
    ///   or ending before it counts as stalled.
    public func engineSnapshot(stalledAfter: Duration) async throws -> EngineSnapshot {
        let window = stalledAfter.secondsDouble
        let rows = try await client.statement(
            """
            SELECT
                (SELECT count(*)::int FROM outbox WHERE published_at IS NULL AND failed_at IS NULL),
                (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM outbox
                    WHERE published_at IS NULL AND failed_at IS NULL),
                (SELECT count(*)::int FROM outbox WHERE published_at IS NULL AND failed_at IS NOT NULL),
                (SELECT count(*)::int FROM runs WHERE state = 'running'),
                (SELECT count(*)::int FROM runs r
                    WHERE r.state = 'running' AND r.created_at < now() - make_interval(secs => \(window))
                    AND NOT EXISTS (
                        SELECT 1 FROM stage_attempts a WHERE a.run_id = r.id
                        AND (a.state IN ('queued', 'running')
                            OR a.finished_at > now() - make_interval(secs => \(window))))),
                (SELECT coalesce(extract(epoch FROM now() - min(changed_at)), 0)::float8
                    FROM mlflow_mirror_changes)
            """, logger: logger)
        var snapshot = EngineSnapshot(
            outboxPending: 0, outboxOldestPendingSeconds: 0, outboxParked: 0, runsRunning: 0, runsStalled: 0,
            mirrorLagSeconds: 0, pools: [])
        for try await (pending, oldest, parked, running, stalled, mirrorLag) in rows.decode(
            (Int, Double, Int, Int, Int, Double).self)
        {
            snapshot = EngineSnapshot(
                outboxPending: pending, outboxOldestPendingSeconds: oldest, outboxParked: parked, runsRunning: running,
                runsStalled: stalled, mirrorLagSeconds: mirrorLag, pools: [])
        }
        let poolRows = try await client.statement(
            """
            SELECT pool, count(*) FILTER (WHERE state = 'queued')::int, count(*) FILTER (WHERE state = 'running')::int
            FROM stage_attempts WHERE state IN ('queued', 'running') GROUP BY pool ORDER BY pool
            """, logger: logger)
        for try await (pool, queued, running) in poolRows.decode((String, Int, Int).self) {
            snapshot.pools.append(.init(pool: pool, queued: queued, running: running))
        }
        return snapshot
    }
}
