import BatonCore
import BatonStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tracing

/// A stage worker's offer to take the next attempt of its pool in the transaction that ends the
/// attempt it executes (``EngineConfiguration/directHandOff``).
///
/// The worker sets it for the length of one execution (``current``); the executor's end
/// (``AttemptStore/finishCounted(_:state:error:errorType:report:countingExecution:gpus:)``, the
/// way every executor ends an attempt) takes it up: the attempt is ended, its outcome applied and
/// the next attempt claimed in one transaction
/// (``RunStore/finishAndApplyOutcome(_:state:error:errorType:report:countingExecution:consumer:claimingFor:pool:lease:)``);
/// the worker reads back what was claimed (``taken``). An end written by the registry (a gate's
/// decision, a registration, a rollout) does not take it up: the worker then applies the outcome
/// after the end, as a transaction of its own.
final class DirectHandOff: Sendable {
    /// The offer of the execution this task runs; `nil` outside a worker's execution (a Ray job
    /// the watcher adopted after a restart ends without one).
    @TaskLocal static var current: DirectHandOff?

    /// What the end did with the offer: the attempt claimed, if any, and the trace context of the
    /// hand-off's span, for the work that prepares it (a Ray submission) to nest under.
    struct Taken: Sendable {
        var next: ClaimedAttempt?
        var context: ServiceContext?
    }

    private let attemptID: UUID
    private let runs: RunStore
    private let owner: String
    private let pool: String
    private let lease: Duration
    private let logger: Logger
    private let outcome = Mutex<Taken?>(nil)

    /// An offer for the execution of attempt `attemptID`, claiming for `owner` in `pool`.
    init(attemptID: UUID, runs: RunStore, owner: String, pool: String, lease: Duration, logger: Logger) {
        self.attemptID = attemptID
        self.runs = runs
        self.owner = owner
        self.pool = pool
        self.lease = lease
        self.logger = logger
    }

    /// Set once the attempt was ended in the hand-off's transaction; `nil` when it was ended
    /// otherwise (or not at all).
    var taken: Taken? { outcome.withLock { $0 } }

    /// Whether ending `claim` takes the offer up: it is the attempt the offer was made for, and
    /// the service is not shutting down (a worker that is takes no new work).
    func applies(to claim: ClaimedAttempt) -> Bool {
        claim.id == attemptID && !Task.isShuttingDownGracefully
    }

    /// Ends the attempt with the hand-off in one transaction; when that transaction fails, ends
    /// it alone (``AttemptStore/finishAttempt(_:state:error:errorType:report:countingExecution:)``),
    /// and the worker hands off after the end as after a registry's (``taken`` stays `nil`).
    ///
    /// - Returns: the outcome recorded; `nil` when the end was fenced out.
    func finish(
        _ claim: ClaimedAttempt, state: AttemptState, error: String?, errorType: String?, report: AttemptReport?,
        countingExecution: Bool, attempts: AttemptStore
    ) async throws -> StageOutcome? {
        do {
            let (finished, context) = try await Self.span(of: claim) {
                let finished = try await runs.finishAndApplyOutcome(
                    claim, state: state, error: error, errorType: errorType, report: report,
                    countingExecution: countingExecution, consumer: EngineConfiguration.coordinatorConsumer,
                    claimingFor: owner, pool: pool, lease: lease)
                return (finished, ServiceContext.current)
            }
            guard let finished else { return nil }
            outcome.withLock { $0 = Taken(next: finished.next, context: context) }
            return finished.outcome
        } catch let failure {
            logger.warning(
                "ending the attempt with its direct hand-off failed; ending it alone",
                metadata: [LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.error: "\(describeError(failure))"])
            return try await attempts.finishAttempt(
                claim, state: state, error: error, errorType: errorType, report: report,
                countingExecution: countingExecution)
        }
    }

    /// Runs `body` in the span of a worker's hand-off of `claim`'s run, a child of `context`: the
    /// events the hand-off writes (the next stage.started) are the span's children.
    static func span<Result>(
        of claim: ClaimedAttempt, context: ServiceContext = .current ?? .topLevel,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try await withSpan("worker hand-off", context: context) { span in
            span.attributes["baton.run_id"] = claim.runID.lowercased
            span.attributes["baton.stage"] = claim.stage
            return try await body()
        }
    }
}
