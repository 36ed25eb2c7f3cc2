import BatonCore
import BatonStore
import Foundation
import Logging

/// Executes a `gate` stage inside the worker: reads the values its condition needs from
/// PostgreSQL, evaluates it, and records the decision.
///
/// A condition that holds succeeds the attempt (`gate.passed`); one that is false rejects it
/// (`gate.failed`, never retried: the run ends `rejected_by_gate`). A condition that cannot be
/// evaluated (a metric the upstream job never reported, with no `??` for it) fails the attempt
/// with that error, like any failure. Every write is fenced by the lease epoch.
struct GateExecutor: StageExecutor {
    let attempts: AttemptStore
    let registry: RegistryStore
    let logger: Logger

    /// Decides the attempt and records the outcome.
    func execute(_ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec) async throws -> StageOutcome? {
        guard try await attempts.recordExecution(claim) else { return nil }
        guard let gate = stage.gate else {
            return try await finish(claim, failure: "the stage has no valid gate: {condition}", errorType: "invalid")
        }
        let model = gate.readsChampion ? pipeline.championModel(forGate: stage) : nil
        let stages = Set(gate.condition.references.compactMap { $0.path.first == "stages" ? $0.path[1] : nil })
        let inputs = try await registry.gateInputs(claim, stages: stages.sorted(), model: model)
        let decision: GateDecision
        do {
            decision = try gate.decide(inputs)
        } catch {
            return try await finish(
                claim, failure: "gate condition could not be evaluated: \(error)", errorType: "gate_error")
        }
        guard
            let outcome = try await registry.finishGateAttempt(
                claim, gate: gate, decision: decision, model: model, championVersion: inputs.champion?.version)
        else {
            logger.info(
                "gate decision fenced out (lease lost)", metadata: [LogKeys.attemptID: "\(claim.id.lowercased)"])
            return nil
        }
        EngineMetrics.attemptFinished(claim, state: outcome.state)
        EngineMetrics.gateDecided(pipeline: claim.pipeline, passed: decision.passed)
        logger.info(
            decision.passed ? "gate passed" : "gate rejected the run",
            metadata: [
                LogKeys.runID: "\(claim.runID.lowercased)", LogKeys.stage: "\(claim.stage)",
                LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.gateClause: "\(decision.failedClause ?? "-")",
            ])
        return outcome
    }

    private func finish(_ claim: ClaimedAttempt, failure: String, errorType: String) async throws -> StageOutcome? {
        try await attempts.finishCounted(claim, state: .failed, error: failure, errorType: errorType)
    }
}
