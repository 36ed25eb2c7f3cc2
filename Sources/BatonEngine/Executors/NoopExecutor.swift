import BatonCore
import BatonStore
import Foundation
import Logging

/// Executes a `noop` stage inside the worker: optionally sleeps, optionally fails on purpose.
///
/// While it sleeps it keeps its lease; if the lease is lost (the run was cancelled, the
/// stage timed out, or the sweeper gave the attempt up) it stops without writing.
struct NoopExecutor: StageExecutor {
    let attempts: AttemptStore
    let leases: LeaseKeeper
    let logger: Logger

    /// Runs the attempt to its end and records the outcome (fenced by the lease epoch).
    func execute(_ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec) async throws -> StageOutcome? {
        let noop = stage.noop ?? NoopStageSpec()
        // An instant noop executes in its end's write (one round trip, not two); one that sleeps
        // records its execution first, fenced, before it sleeps.
        let instant = noop.sleep <= .zero
        if !instant {
            guard try await attempts.recordExecution(claim) else { return nil }
        }
        let deadline = ContinuousClock.now + .milliseconds(Int64(claim.deadline.timeIntervalSinceNow * 1000))
        let end = min(ContinuousClock.now + noop.sleep, deadline)
        if ContinuousClock.now < end {
            do {
                try await leases.run(claim) { try await Task.sleep(until: end) }
            } catch is LeaseKeeper.LeaseLost {
                logger.info("lease lost; stopping", metadata: [LogKeys.attemptID: "\(claim.id.lowercased)"])
                return nil
            }
        }
        let state: AttemptState
        var error: String?
        var errorType: String?
        if noop.sleep > .zero, ContinuousClock.now >= deadline {
            state = .timedOut
            error = "exceeded the stage timeout of \(DurationParsing.format(stage.timeout))"
            errorType = "timeout"
        } else if claim.attempt <= noop.failAttempts {
            state = .failed
            error = "noop stage failed on purpose (attempt \(claim.attempt) of fail_attempts \(noop.failAttempts))"
            errorType = "job_failed"
        } else {
            state = .succeeded
        }
        let metrics = state == .succeeded ? noop.metrics.map { JobMetric(key: $0.key, value: $0.value) } : []
        var records = JobRecords()
        records.metrics = metrics
        let report = metrics.isEmpty ? nil : AttemptReport(records: records)
        let outcome = try await attempts.finishCounted(
            claim, state: state, error: error, errorType: errorType, report: report, countingExecution: instant)
        if outcome == nil {
            logger.info("outcome fenced out (lease lost)", metadata: [LogKeys.attemptID: "\(claim.id.lowercased)"])
        }
        return outcome
    }
}
