import BatonCore
import BatonStore
import Logging
import ServiceLifecycle

/// Reads the engine's backlog from the database every ``EngineConfiguration/statisticsInterval``
/// and sets the gauges of `/metrics` (outbox pending and its oldest row, parked rows, running and
/// stalled runs, attempts per pool, MLflow mirror lag). Run by the sweeper; with several
/// sweepers every one reports the same figures, so rules aggregate them with `max`.
struct EngineStatistics {
    let attempts: AttemptStore
    let configuration: EngineConfiguration
    let logger: Logger

    /// Reads and records until graceful shutdown; a failed read is logged once per outage and
    /// leaves the last figures in place.
    func run() async {
        var pools: Set<String> = []
        var failing = false
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                var snapshot = try await attempts.engineSnapshot(stalledAfter: configuration.stalledRunAfter)
                // A pool that emptied reports 0, not its last count.
                let seen = Set(snapshot.pools.map(\.pool))
                for pool in pools.subtracting(seen).sorted() {
                    snapshot.pools.append(.init(pool: pool, queued: 0, running: 0))
                }
                pools.formUnion(seen)
                EngineMetrics.record(snapshot)
                if failing { logger.notice("engine statistics read again") }
                failing = false
            } catch {
                if !failing {
                    logger.warning(
                        "engine statistics unavailable; /metrics keeps the last figures",
                        metadata: [LogKeys.error: "\(describeError(error))"])
                }
                failing = true
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.statisticsInterval) }
        }
    }
}
