import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging
import ServiceLifecycle
import Tracing

/// The stage worker role for one pool: consumes the pool's `stage.ready` topic in the pool's own
/// consumer group, claims the attempt, commits the offset, then executes the attempt under its lease.
///
/// A message is never held for the length of a stage: once the claim is in PostgreSQL the
/// offset is committed, and a crash from then on is recovered by the lease (the sweeper marks
/// the attempt lost and the coordinator queues a new one). A redelivered `stage.ready` finds
/// the attempt already claimed and does nothing, so no attempt executes twice.
///
/// With ``EngineConfiguration/directHandOff`` on, an attempt that ends here hands off without
/// the broker: the worker applies its outcome as the coordinator would, claiming the next
/// attempt of its pool that this made due, and executes it in the same execution slot. The end
/// of the attempt, its outcome and the claim are one transaction when the executor ends the
/// attempt through ``DirectHandOff`` (``RunStore/finishAndApplyOutcome(_:state:error:errorType:report:countingExecution:consumer:claimingFor:pool:lease:)``),
/// two when the registry wrote the end (``RunStore/applyOutcome(_:consumer:claimingFor:pool:lease:)``).
/// The outcome's event is still published; the coordinator's handling of it then finds the work
/// done. The attempt claimed so gets no `stage.ready` (its `stage.started` is written with the claim).
public struct StageWorker: Service {
    private let loop: MessageLoop
    private let executors: StageExecutors
    private let attempts: AttemptStore
    private let runs: RunStore
    private let pool: String
    private let configuration: EngineConfiguration
    private let logger: Logger

    /// Creates the worker of `pool`, consuming the pool's `stage.ready` topic in its own group.
    ///
    /// - Throws: when the Kafka consumer cannot be created from `configuration`.
    public init(
        pool: String, configuration: EngineConfiguration, attempts: AttemptStore, runs: RunStore,
        registry: RegistryStore, messaging: MessagingStore, producer: KafkaProducer, logger: Logger
    ) throws {
        var logger = logger
        logger[metadataKey: LogKeys.role] = "worker"
        logger[metadataKey: LogKeys.pool] = "\(pool)"
        loop = try MessageLoop(
            group: "worker.\(pool)", topics: [configuration.topics.stageReady(pool: pool)], consumerName: "worker",
            followUpLimit: configuration.workerConcurrency, configuration: configuration,
            messaging: messaging,
            producer: producer, logger: logger)
        self.executors = StageExecutors(
            attempts: attempts, registry: registry, configuration: configuration, logger: logger)
        self.attempts = attempts
        self.runs = runs
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
    }

    /// Consumes and executes until graceful shutdown, recording a heartbeat for the pool meanwhile.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await heartbeat() }
            try await consume()
            group.cancelAll()
        }
    }

    /// Records that this process serves the pool, so the sweeper knows the pool's attempts will be
    /// picked up (and fails them when no worker is live).
    private func heartbeat() async {
        while !Task.isCancelled {
            do {
                try await attempts.recordWorkerHeartbeat(instance: configuration.instanceID, pools: [pool])
            } catch {
                logger.debug("worker heartbeat failed", metadata: [LogKeys.error: "\(describeError(error))"])
            }
            try? await Task.sleep(for: configuration.workerHeartbeatInterval)
        }
    }

    private func consume() async throws {
        try await loop.run { message in
            let event: CloudEvent
            let ready: StageReady
            do {
                event = try KafkaEvents.event(from: message, defaultType: EventType.stageReady.rawValue)
                guard event.type == EventType.stageReady.rawValue else {
                    throw PoisonMessage(reason: "expected stage.ready, got '\(event.type)'")
                }
                ready = try event.decode(StageReady.self)
            } catch let error as EventError {
                throw PoisonMessage(reason: error.message)
            }
            let queued = QueuedAttempt(
                id: ready.attemptId, runID: ready.runId, stage: ready.stage, attempt: ready.attempt)
            guard let first = try await prepare(queued) else { return nil }
            // The execution runs after the commit, in another task: a span of its own, a child
            // of this message's.
            let context = ServiceContext.current ?? RunTrace.context(runID: first.claim.runID)
            return {
                var next: Prepared? = first
                while let current = next {
                    next = await execute(current, context: context)
                }
            }
        }
    }

    /// A claimed attempt, ready to execute.
    private struct Prepared: Sendable {
        var claim: ClaimedAttempt
        var stage: StageSpec
        var pipeline: PipelineSpec
        var executor: any StageExecutor
    }

    /// Claims the attempt and prepares it (``prepare(claimed:)``); `nil` when there is nothing to execute.
    private func prepare(_ queued: QueuedAttempt) async throws -> Prepared? {
        guard
            let claim = try await attempts.claimAttempt(
                queued, owner: configuration.instanceID, lease: configuration.leaseDuration)
        else {
            logger.debug(
                "attempt not claimable (already claimed or ended)",
                metadata: [LogKeys.attemptID: "\(queued.id.lowercased)"])
            return nil
        }
        return try await prepare(claimed: claim)
    }

    /// Finds a claimed attempt's stage and executor and runs the executor's
    /// ``StageExecutor/prepare(_:stage:)``; `nil` when there is nothing to execute.
    private func prepare(claimed claim: ClaimedAttempt) async throws -> Prepared? {
        guard let (stage, pipeline) = try await stage(of: claim) else { return nil }
        guard let executor = executors.executor(for: stage.kind) else {
            _ = try await attempts.finishAttempt(
                claim, state: .failed,
                error: "stage kind '\(stage.kind.rawValue)' has no executor in this Baton build yet",
                errorType: "unsupported_kind")
            return nil
        }
        guard let prepared = try await executor.prepare(claim, stage: stage) else { return nil }
        return Prepared(claim: prepared, stage: stage, pipeline: pipeline, executor: executor)
    }

    /// Executes the attempt; with ``EngineConfiguration/directHandOff``, then hands off directly.
    ///
    /// - Returns: the next attempt of this pool the hand-off claimed, if any.
    private func execute(_ prepared: Prepared, context: ServiceContext) async -> Prepared? {
        let claim = prepared.claim
        let handOff =
            configuration.directHandOff
            ? DirectHandOff(
                attemptID: claim.id, runs: runs, owner: configuration.instanceID, pool: pool,
                lease: configuration.leaseDuration, logger: logger) : nil
        let recorded = await withSpan("execute \(prepared.stage.kind.rawValue)", context: context) { span in
            span.attributes["baton.run_id"] = claim.runID.lowercased
            span.attributes["baton.stage"] = claim.stage
            span.attributes["baton.attempt"] = claim.attempt
            return await DirectHandOff.$current.withValue(handOff) {
                await execute(claim, stage: prepared.stage, in: prepared.pipeline, with: prepared.executor)
            }
        }
        // Nothing recorded (the lease was lost): nothing to hand on.
        guard let handOff, let recorded else { return nil }
        do {
            if let taken = handOff.taken {
                // Ended in the hand-off's transaction: the next attempt, if any, is claimed; it is
                // prepared under the hand-off's span.
                guard let next = taken.next else { return nil }
                return try await ServiceContext.withValue(taken.context ?? context) {
                    try await prepare(claimed: next)
                }
            }
            // Shutting down, a worker takes no new work: the outcome's event carries the hand-off
            // (otherwise a chain of stages would keep a graceful shutdown waiting past its limit).
            guard !Task.isShuttingDownGracefully else { return nil }
            // Ended by the registry's own write (a gate, a registration, a rollout): the outcome is
            // applied now, in a transaction of its own.
            return try await DirectHandOff.span(of: claim, context: context) {
                guard
                    let next = try await runs.applyOutcome(
                        recorded, consumer: EngineConfiguration.coordinatorConsumer,
                        claimingFor: configuration.instanceID, pool: pool, lease: configuration.leaseDuration)
                else { return nil }
                return try await prepare(claimed: next)
            }
        } catch {
            // Not applied: the outcome's event takes the usual way (the coordinator applies it, a
            // worker claims). Applied, but the claimed attempt not prepared: its lease runs out
            // and the sweeper takes it back.
            logger.warning(
                "direct hand-off failed; the outcome's event or the sweeper will carry it",
                metadata: [LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.error: "\(describeError(error))"])
        }
        return nil
    }

    /// Counts and logs a claim and finds its stage in the run's spec; `nil` when the spec has no
    /// such stage (the attempt is failed then).
    private func stage(of claim: ClaimedAttempt) async throws -> (StageSpec, PipelineSpec)? {
        EngineMetrics.claimed(claim)
        let pipeline = try PipelineSpecCache.shared.spec(claim.specYAML)
        guard let stage = pipeline.stage(named: claim.stage) else {
            _ = try await attempts.finishAttempt(
                claim, state: .failed, error: "stage is not in the run's spec", errorType: "invalid")
            return nil
        }
        logger.info(
            "attempt claimed",
            metadata: [
                LogKeys.runID: "\(claim.runID.lowercased)", LogKeys.stage: "\(claim.stage)",
                LogKeys.attempt: "\(claim.attempt)",
            ])
        return (stage, pipeline)
    }

    /// Runs the executor; the outcome it recorded, `nil` when none.
    private func execute(
        _ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec, with executor: any StageExecutor
    ) async -> StageOutcome? {
        do {
            return try await executor.execute(claim, stage: stage, in: pipeline)
        } catch {
            // The lease runs out and the sweeper re-drives the attempt.
            logger.error(
                "attempt execution failed",
                metadata: [LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.error: "\(describeError(error))"])
            return nil
        }
    }
}
