import BatonCore
import BatonStore

extension AttemptStore {
    /// Ends the attempt as ``AttemptStore/finishAttempt(_:state:error:errorType:report:countingExecution:)`` does
    /// and, when the write was not fenced out, counts the end in the engine's metrics
    /// (``EngineMetrics/attemptFinished(_:state:gpus:)``): what every executor does when it
    /// ends an attempt. Under a worker's ``DirectHandOff`` for this attempt, the end, the
    /// outcome's application and the next attempt's claim are one transaction.
    ///
    /// - Returns: the outcome recorded; `nil` when the write was fenced out.
    @discardableResult
    func finishCounted(
        _ claim: ClaimedAttempt, state: AttemptState, error: String? = nil, errorType: String? = nil,
        report: AttemptReport? = nil, countingExecution: Bool = false, gpus: Double = 0
    ) async throws -> StageOutcome? {
        let outcome: StageOutcome?
        if let handOff = DirectHandOff.current, handOff.applies(to: claim) {
            outcome = try await handOff.finish(
                claim, state: state, error: error, errorType: errorType, report: report,
                countingExecution: countingExecution, attempts: self)
        } else {
            outcome = try await finishAttempt(
                claim, state: state, error: error, errorType: errorType, report: report,
                countingExecution: countingExecution)
        }
        if outcome != nil { EngineMetrics.attemptFinished(claim, state: state, gpus: gpus) }
        return outcome
    }
}
