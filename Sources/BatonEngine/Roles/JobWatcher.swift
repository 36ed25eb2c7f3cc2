import BatonCore
import BatonRay
import BatonStore
import Logging
import ServiceLifecycle
import Tracing

/// The job watcher role: adopts Ray attempts whose watcher vanished and stops the Ray jobs of
/// attempts that ended without them (cancelled or timed out while nobody watched).
///
/// The worker that submits a job watches it first; this role is what makes a crash of that
/// worker harmless: once its lease expires, a watcher here takes the attempt over (the epoch
/// moves on, fencing the old one out) and follows the same Ray job — it never submits a second.
public struct JobWatcher: Service {
    private let attempts: AttemptStore
    private let executor: RayStageExecutor
    private let configuration: EngineConfiguration
    private let logger: Logger

    /// Creates the watcher; it follows jobs through `launcher`.
    public init(
        configuration: EngineConfiguration, launcher: any RayJobLauncher, attempts: AttemptStore, logger: Logger
    ) {
        var logger = logger
        logger[metadataKey: LogKeys.role] = "watcher"
        self.attempts = attempts
        self.executor = RayStageExecutor(
            attempts: attempts, ray: launcher, configuration: configuration,
            logger: logger)
        self.configuration = configuration
        self.logger = logger
    }

    /// Adopts and follows attempts every sweep interval until graceful shutdown.
    public func run() async throws {
        await withDiscardingTaskGroup { watches in
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                do {
                    let adopted = try await attempts.adoptRayAttempts(
                        owner: configuration.instanceID, lease: configuration.leaseDuration, limit: 50)
                    for claim in adopted {
                        guard let stage = try? PipelineSpecCache.shared.spec(claim.specYAML).stage(named: claim.stage)
                        else {
                            continue
                        }
                        logger.info(
                            "adopted ray attempt",
                            metadata: [
                                LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.stage: "\(claim.stage)",
                                LogKeys.submitted: "\(claim.raySubmissionID != nil)",
                            ])
                        watches.addTask {
                            await withSpan("watcher follow", context: RunTrace.context(runID: claim.runID)) { span in
                                span.attributes["baton.run_id"] = claim.runID.lowercased
                                span.attributes["baton.stage"] = claim.stage
                                await executor.watch(claim, stage: stage)
                            }
                        }
                    }
                    try await stopOrphanedJobs()
                } catch {
                    logger.warning("watcher pass failed", metadata: [LogKeys.error: "\(describeError(error))"])
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.sweepInterval) }
            }
        }
    }

    private func stopOrphanedJobs() async throws {
        for (attemptID, submissionID) in try await attempts.rayJobsToStop(limit: 50) {
            do {
                let status = try await executor.stopJob(submissionID)
                try await attempts.markRayStopped(attemptID, status: status)
                logger.info("stopped the ray job of an ended attempt", metadata: [LogKeys.attemptID: "\(submissionID)"])
            } catch let error as RayError where error.code == .notFound {
                try await attempts.markRayStopped(attemptID, status: "UNKNOWN")
            }
        }
    }
}
