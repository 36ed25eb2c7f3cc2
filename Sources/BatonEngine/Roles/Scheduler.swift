import BatonCore
import BatonStore
import Logging
import ServiceLifecycle

/// Fires the due ticks of schedules (`kind: Schedule`), every ``EngineConfiguration/scheduleInterval``;
/// run beside the coordinator. Several may run: each schedule is fired by one of them at a time
/// (`SKIP LOCKED`), and a tick is a row written with its run request, so it makes one run.
public struct Scheduler: Service {
    private let runs: RunStore
    private let configuration: EngineConfiguration
    private let logger: Logger

    /// A scheduler over `runs`.
    public init(configuration: EngineConfiguration, runs: RunStore, logger: Logger) {
        self.runs = runs
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKeys.role] = "scheduler"
        self.logger = logger
    }

    /// Fires due ticks until graceful shutdown; a failed pass is logged once per outage.
    public func run() async throws {
        var failing = false
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                for firing in try await runs.fireDueSchedules() {
                    logger.info(
                        "schedule tick",
                        metadata: [
                            LogKeys.schedule: "\(firing.schedule)", LogKeys.tick: "\(firing.tick)",
                            LogKeys.outcome: "\(firing.outcome)", LogKeys.runID: "\(firing.runID?.lowercased ?? "-")",
                            LogKeys.reason: "\(firing.reason ?? "-")",
                        ])
                }
                failing = false
            } catch {
                if !failing {
                    logger.warning(
                        "schedules could not be fired; will retry", metadata: [LogKeys.error: "\(describeError(error))"]
                    )
                }
                failing = true
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.scheduleInterval) }
        }
    }
}
