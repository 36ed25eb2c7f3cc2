import BatonCore
import BatonStore
import Foundation
import Logging

/// Executes a `rollout` stage inside the worker: rolls the version the run's `register` stage
/// made (the candidate) out through the stage's steps on its target, with the model's
/// `champion` as the stable version, renewing the lease while the driver runs.
///
/// Every step is stored (`rollout_steps`) with `rollout.step`; the end is one transaction fenced
/// by the lease epoch: on success the candidate becomes `champion` (`rollout.succeeded`), on an
/// abort the alias the register stage moved is rolled back and the attempt fails with the
/// failing measurement (`rollout.aborted`). A lost lease cancels the driver without writing; the
/// next attempt runs the driver again, which picks up from what the platform reports. An aborted
/// rollout is not retried (``RunPlanner/finalErrorTypes``): the stage and the run fail at once.
struct RolloutExecutor: StageExecutor {
    let attempts: AttemptStore
    let registry: RegistryStore
    let configuration: EngineConfiguration
    let logger: Logger

    /// Runs the rollout and records the outcome.
    func execute(_ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec) async throws -> StageOutcome? {
        guard let spec = stage.rollout else {
            return try await fail(claim, "stage has no valid rollout settings", type: "invalid")
        }
        guard try await attempts.recordExecution(claim) else { return nil }
        guard let registerStage = RolloutSpec.registerStages(upstreamOf: stage.name, in: pipeline).first,
            let register = pipeline.stage(named: registerStage)?.register
        else {
            return try await fail(claim, "no upstream register stage names the candidate", type: "invalid")
        }
        guard
            let versions = try await registry.rolloutVersions(
                runID: claim.runID, registerStage: registerStage, model: register.model)
        else {
            return try await fail(
                claim, "stage \(registerStage) registered no version of \(register.model) in this run",
                type: "invalid")
        }
        let candidate = RolloutModel(versions.candidate)
        // A candidate that is already champion (a rollout re-run by hand) is rolled out alone.
        let stable = versions.stable.flatMap { $0.version == candidate.version ? nil : RolloutModel($0) }
        guard let driver = configuration.rolloutDrivers[spec.target] else {
            return try await fail(
                claim, "no rollout driver for target '\(spec.target.rawValue)' is configured on this worker",
                type: "rollout_unconfigured")
        }
        var metadata: Logger.Metadata = [
            LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.runID: "\(claim.runID.lowercased)",
            LogKeys.model: "\(candidate.name)", LogKeys.candidate: "\(candidate.version)",
            LogKeys.stable: "\(stable.map { String($0.version) } ?? "none")",
        ]
        logger.info("rollout started", metadata: metadata)
        let result: RolloutResult
        do {
            let leases = LeaseKeeper(attempts: attempts, lease: configuration.leaseDuration, logger: logger)
            result = try await leases.run(claim) {
                try await driver.run(candidate: candidate, stable: stable, rollout: spec) {
                    step in
                    let stepped = RolloutStepped(
                        runId: claim.runID, stage: claim.stage, attemptId: claim.id, model: candidate.name,
                        candidateVersion: candidate.version, stableVersion: stable?.version, index: step.index,
                        kind: step.kind, weight: step.weight, phase: step.phase, measurements: step.measurements,
                        message: step.message)
                    guard try await registry.recordRolloutStep(claim, stepped) else { throw LeaseKeeper.LeaseLost() }
                    EngineMetrics.rolloutStepped(
                        model: candidate.name, weight: step.weight,
                        analysisPassed: step.kind == "analysis" && step.phase != "running"
                            ? step.phase == "succeeded" : nil)
                }
            }
        } catch is LeaseKeeper.LeaseLost {
            logger.info("lease lost; rollout stopped", metadata: metadata)
            return nil
        } catch let error as any RolloutDriverError {
            return try await fail(
                claim, "rollout could not run: \(error.reason)",
                type: error.isRetriable ? "rollout_unavailable" : "rollout_error")
        }
        let reason: String?
        if case .aborted(let why) = result { reason = why } else { reason = nil }
        let ended = RolloutEnded(
            runId: claim.runID, stage: claim.stage, attemptId: claim.id, model: candidate.name,
            candidateVersion: candidate.version, stableVersion: stable?.version, target: spec.target.rawValue,
            reason: reason)
        metadata[LogKeys.outcome] = "\(reason == nil ? "succeeded" : "aborted")"
        guard
            let outcome = try await registry.finishRollout(
                claim, ended: ended, succeeded: reason == nil, registerAlias: register.alias)
        else {
            logger.info("rollout outcome fenced out (lease lost)", metadata: metadata)
            return nil
        }
        logger.info("rollout finished", metadata: metadata)
        EngineMetrics.attemptFinished(claim, state: outcome.state)
        return outcome
    }

    private func fail(_ claim: ClaimedAttempt, _ error: String, type: String) async throws -> StageOutcome? {
        try await attempts.finishCounted(claim, state: .failed, error: error, errorType: type)
    }
}

extension RolloutModel {
    init(_ version: RolloutVersion) {
        self.init(name: version.model, version: version.version, uri: version.artifactURI, md5: version.artifactMD5)
    }
}
