import BatonCore
import BatonStore

/// Runs the claimed attempts of one stage kind, under the attempt's lease.
///
/// A stage worker claims an attempt, asks the executor of its kind to ``prepare(_:stage:)`` it
/// while the `stage.ready` message is still held, commits the message's offset, and then runs
/// ``execute(_:stage:in:)`` — so a message is never held for the length of a stage, and work
/// that must happen at most once per delivery (a Ray submission) happens before the commit.
/// Every write an executor makes is fenced by the lease epoch of the claim; one that runs long
/// keeps its lease with a ``LeaseKeeper``.
///
/// Executors are bound to their kind in one place: ``StageExecutors``.
protocol StageExecutor: Sendable {
    /// Work done before the offset of the `stage.ready` message is committed.
    ///
    /// - Returns: the claim to ``execute(_:stage:in:)``, or `nil` when the attempt needs nothing
    ///   more (it ended already, or its lease was lost). Default: `claim`, unchanged.
    func prepare(_ claim: ClaimedAttempt, stage: StageSpec) async throws -> ClaimedAttempt?

    /// Runs the attempt to its end and records the outcome.
    ///
    /// - Parameters:
    ///   - claim: the attempt, as ``prepare(_:stage:)`` returned it.
    ///   - stage: the attempt's stage; its ``StageSpec/body`` is of the executor's kind.
    ///   - pipeline: the run's spec.
    /// - Returns: the outcome this execution recorded, as the store's finishing write returned
    ///   it (the worker hands the run on from it); `nil` when it recorded none (the lease was lost).
    /// - Throws: when the attempt could not be run to its end; its lease then runs out and the
    ///   sweeper re-drives it.
    func execute(_ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec) async throws -> StageOutcome?
}

extension StageExecutor {
    /// Nothing to do before the commit.
    func prepare(_ claim: ClaimedAttempt, stage: StageSpec) async throws -> ClaimedAttempt? { claim }
}
