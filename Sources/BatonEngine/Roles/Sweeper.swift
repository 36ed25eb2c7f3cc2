import BatonCore
import BatonStore
import Logging
import ServiceLifecycle

/// The sweeper role: periodically ends attempts past their deadline or lease and re-sends
/// events that went missing, so every run reaches a terminal state; and, beside it, reads the
/// engine's backlog for `/metrics` (``EngineStatistics``) and keeps the champions that rollouts
/// put on Ray Serve served there (``ChampionRestorer``).
///
/// Several sweepers may run: the sweep works through PostgreSQL with `SKIP LOCKED`, and a
/// champion's restore decides and deploys under the lock on the platform's configuration, so
/// only one of them deploys it.
public struct Sweeper: Service {
    private let attempts: AttemptStore
    private let messaging: MessagingStore
    private let restorer: ChampionRestorer?
    private let configuration: EngineConfiguration
    private let logger: Logger

    /// Creates the sweeper; it restores champions every ``EngineConfiguration/serveRestoreInterval``
    /// with the rollout drivers of `configuration` whose platform can lose what it serves.
    public init(
        configuration: EngineConfiguration, attempts: AttemptStore, messaging: MessagingStore,
        registry: RegistryStore, logger: Logger
    ) {
        self.attempts = attempts
        self.messaging = messaging
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKeys.role] = "sweeper"
        self.logger = logger
        restorer = ChampionRestorer(configuration: configuration, registry: registry, logger: logger)
    }

    /// Sweeps every sweep interval, reads the engine's figures for `/metrics` every statistics
    /// interval (``EngineStatistics``), and restores champions every restore interval, until
    /// graceful shutdown.
    public func run() async throws {
        let statistics = EngineStatistics(attempts: attempts, configuration: configuration, logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await sweep() }
            group.addTask { await statistics.run() }
            if let restorer, let interval = configuration.serveRestoreInterval {
                group.addTask { await restorer.run(every: interval) }
            }
        }
    }

    /// Sweeps every sweep interval until graceful shutdown.
    private func sweep() async throws {
        var lastPrune = ContinuousClock.now
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                let report = try await attempts.sweep(
                    redriveAfter: configuration.redriveAfter, queueTimeout: configuration.queueTimeout,
                    workerTimeout: configuration.workerHeartbeatInterval * 3)
                EngineMetrics.swept("lost", report.lost)
                EngineMetrics.swept("timed_out", report.timedOut)
                EngineMetrics.swept("redriven_ready", report.redrivenReady)
                EngineMetrics.swept("redriven_outcome", report.redrivenOutcomes)
                EngineMetrics.swept("no_worker", report.unserved)
                let requests = try await messaging.redriveUnhandledRequests(
                    consumer: EngineConfiguration.coordinatorConsumer, after: configuration.requestRedriveAfter)
                EngineMetrics.swept("redriven_request", requests)
                if !report.isEmpty || requests > 0 {
                    logger.info(
                        "sweep",
                        metadata: [
                            LogKeys.lost: "\(report.lost)", LogKeys.timedOut: "\(report.timedOut)",
                            LogKeys.redrivenReady: "\(report.redrivenReady)",
                            LogKeys.redrivenOutcomes: "\(report.redrivenOutcomes)",
                            LogKeys.noWorker: "\(report.unserved)", LogKeys.redrivenRequests: "\(requests)",
                        ])
                }
                if ContinuousClock.now - lastPrune > .seconds(3600) {
                    try await messaging.pruneHistory(
                        outboxAge: configuration.outboxRetention, inboxAge: configuration.inboxRetention)
                    lastPrune = .now
                }
            } catch {
                logger.warning("sweep failed", metadata: [LogKeys.error: "\(describeError(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.sweepInterval) }
        }
    }
}
