import BatonCore
import BatonStore
import Foundation
import Logging

/// Executes a `register` stage inside the worker: registers the artifact the spec names as the
/// model's next version in Baton's registry and moves the spec's alias to it.
///
/// Everything happens in one PostgreSQL transaction fenced by the lease epoch
/// (``BatonStore/register(_:_:upstreamStages:)``), so a redelivered or retried attempt never
/// registers twice. The MLflow registry is brought in step afterwards by the mirror role, from
/// the same tables, so MLflow being down never blocks a registration.
struct RegisterExecutor: StageExecutor {
    let attempts: AttemptStore
    let registry: RegistryStore
    let logger: Logger

    /// Registers and records the outcome.
    func execute(_ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec) async throws -> StageOutcome? {
        guard let spec = stage.register else {
            return try await attempts.finishCounted(
                claim, state: .failed, error: "stage has no valid register settings", errorType: "invalid")
        }
        guard try await attempts.recordExecution(claim) else { return nil }
        let outcome = try await registry.register(
            claim, spec, upstreamStages: pipeline.graph.upstream(of: stage.name).sorted())
        var metadata: Logger.Metadata = [
            LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.runID: "\(claim.runID.lowercased)",
            LogKeys.model: "\(spec.model)",
        ]
        switch outcome {
        case .registered(let registration):
            metadata[LogKeys.version] = "\(registration.version)"
            metadata[LogKeys.artifactURI] = "\(registration.artifactURI)"
            logger.info(
                registration.isNew ? "model version registered" : "model version found registered",
                metadata: metadata)
            EngineMetrics.attemptFinished(claim, state: .succeeded)
            return claim.outcome(.succeeded)
        case .missingArtifact(let reason):
            return try await attempts.finishCounted(
                claim, state: .failed, error: reason, errorType: "missing_artifact")
        case .fencedOut:
            logger.info("registration fenced out (lease lost)", metadata: metadata)
            return nil
        }
    }
}
