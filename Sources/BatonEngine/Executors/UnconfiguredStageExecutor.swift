import BatonCore
import BatonStore

/// Stands in for the executor of a kind this process cannot run as configured: fails the
/// attempt at once, saying what to set.
struct UnconfiguredStageExecutor: StageExecutor {
    let attempts: AttemptStore
    /// The attempt's error: what is missing and how to set it.
    let reason: String
    /// The attempt's error type, e.g. `ray_unconfigured`.
    let errorType: String

    /// Fails the attempt; there is nothing to execute.
    func prepare(_ claim: ClaimedAttempt, stage: StageSpec) async throws -> ClaimedAttempt? {
        _ = try await attempts.finishAttempt(claim, state: .failed, error: reason, errorType: errorType)
        return nil
    }

    /// Never reached: ``prepare(_:stage:)`` ends every attempt.
    func execute(_ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec) async throws -> StageOutcome? {
        nil
    }
}
