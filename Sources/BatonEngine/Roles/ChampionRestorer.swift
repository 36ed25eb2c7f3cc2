import BatonCore
import BatonStore
import Logging
import ServiceLifecycle

/// What the champion restorer reads and records: the registry. ``RegistryStore`` is the real one;
/// the restorer's logic is unit-tested with an in-memory one.
protocol ServedChampionRegistry: Sendable {
    /// The champions a succeeded rollout to `target` put in place, by model name after `model`.
    func servedChampions(target: String, after model: String, limit: Int) async throws -> [ServedChampion]
    /// Records that a champion was deployed again (`model.restored`).
    func recordRestore(_ restored: ModelRestored) async throws
}

extension RegistryStore: ServedChampionRegistry {}

/// Keeps the champions that rollouts put on a platform that can lose them (Ray Serve) served
/// there: part of the sweeper role.
///
/// Every ``EngineConfiguration/serveRestoreInterval`` it lists, per such platform, the models
/// whose champion a succeeded rollout to it put in place, at most
/// ``EngineConfiguration/serveRestoreBatch`` per pass (the next pass goes on after the last), and
/// asks the platform's driver to deploy each champion again if the platform lost it. A model with a
/// rollout stage queued or running is skipped: that rollout owns the platform for it. A restore is
/// logged at notice level, counted (`baton_serve_restores_total{target,outcome}`) and recorded as
/// `model.restored`; an error is logged and counted, and the pass goes on with the next model.
struct ChampionRestorer: Sendable {
    let registry: any ServedChampionRegistry
    /// The drivers to check, by target: those whose platform can lose what it serves.
    let drivers: [RolloutSpec.Target: any RolloutDriver]
    let batchSize: Int
    let logger: Logger

    /// A restorer for the drivers of `configuration` whose platform can lose what it serves;
    /// `nil` when there is none, or restoring is off.
    init?(configuration: EngineConfiguration, registry: any ServedChampionRegistry, logger: Logger) {
        let drivers = configuration.rolloutDrivers.filter { $0.value.canLoseServing }
        guard configuration.serveRestoreInterval != nil, !drivers.isEmpty else { return nil }
        self.init(registry: registry, drivers: drivers, batchSize: configuration.serveRestoreBatch, logger: logger)
    }

    init(
        registry: any ServedChampionRegistry, drivers: [RolloutSpec.Target: any RolloutDriver], batchSize: Int,
        logger: Logger
    ) {
        self.registry = registry
        self.drivers = drivers
        self.batchSize = max(batchSize, 1)
        self.logger = logger
    }

    /// How many champions one pass found in each state, by outcome label.
    struct PassReport: Sendable, Hashable {
        var outcomes: [String: Int] = [:]
        /// Where the next pass goes on, per target: the last model checked, or `""` from the first.
        var cursors: [RolloutSpec.Target: String] = [:]
    }

    /// Passes every `interval` until graceful shutdown, the first at once.
    func run(every interval: Duration) async {
        var cursors: [RolloutSpec.Target: String] = [:]
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            // A restore may wait minutes for Serve: shutdown does not wait for it.
            let after = cursors
            cursors = await cancelWhenGracefulShutdown { await pass(after: after) }.cursors
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Checks at most ``batchSize`` champions per platform, after `cursors`; never throws.
    func pass(after cursors: [RolloutSpec.Target: String]) async -> PassReport {
        var report = PassReport()
        for (target, driver) in drivers.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let after = cursors[target] ?? ""
            let champions: [ServedChampion]
            do {
                champions = try await registry.servedChampions(
                    target: target.rawValue, after: after, limit: batchSize)
            } catch {
                logger.warning(
                    "cannot list the champions to keep served",
                    metadata: [LogKeys.target: "\(target.rawValue)", LogKeys.error: "\(describeError(error))"])
                report.cursors[target] = after
                continue
            }
            report.cursors[target] = champions.count < batchSize ? "" : champions.last?.model ?? ""
            for champion in champions {
                guard let outcome = await check(champion, target: target, driver: driver) else { break }
                EngineMetrics.serveRestore(target: target.rawValue, outcome: outcome)
                report.outcomes[outcome, default: 0] += 1
            }
        }
        return report
    }

    /// Asks the driver to restore one champion; returns the outcome's label, `nil` when the task
    /// was cancelled (shutdown) before the driver answered.
    private func check(_ champion: ServedChampion, target: RolloutSpec.Target, driver: any RolloutDriver) async
        -> String?
    {
        var metadata: Logger.Metadata = [
            LogKeys.model: "\(champion.model)", LogKeys.version: "\(champion.version)",
            LogKeys.target: "\(target.rawValue)",
        ]
        guard !champion.isRollingOut else {
            logger.debug("champion not checked: a rollout of the model is in progress", metadata: metadata)
            return "skipped"
        }
        let model = RolloutModel(
            name: champion.model, version: champion.version, uri: champion.artifactURI, md5: champion.artifactMD5)
        let outcome: ServingRestoreOutcome
        do {
            outcome = try await driver.restoreServing(champion: model)
        } catch {
            metadata[LogKeys.error] = "\(describeError(error))"
            if Task.isCancelled {
                logger.info("champion restore stopped by shutdown", metadata: metadata)
                return nil
            }
            logger.warning("champion restore failed", metadata: metadata)
            return "failed"
        }
        switch outcome {
        case .alreadyServing:
            break
        case .leftAlone(let reason):
            metadata[LogKeys.reason] = "\(reason)"
            logger.debug("champion not restored: the platform serves the model otherwise", metadata: metadata)
        case .restored(let reason):
            metadata[LogKeys.reason] = "\(reason)"
            logger.notice("champion restored", metadata: metadata)
            do {
                try await registry.recordRestore(
                    ModelRestored(
                        model: champion.model, version: champion.version, artifactUri: champion.artifactURI,
                        target: target.rawValue, reason: reason))
            } catch {
                metadata[LogKeys.error] = "\(describeError(error))"
                logger.warning("champion restored, but model.restored not recorded", metadata: metadata)
            }
        }
        return outcome.label
    }
}
