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
struct RegisterExecutor: Sendable {
    let store: BatonStore
    let logger: Logger

    /// Registers and records the outcome.
    func execute(_ claim: ClaimedAttempt, stage: StageSpec) async throws {
        guard let spec = stage.register else {
            _ = try await store.finishAttempt(
                claim, state: .failed, error: "stage has no valid register settings", errorType: "invalid")
            return
        }
        guard try await store.recordExecution(claim) else { return }
        let pipeline = try PipelineSpecCache.shared.spec(claim.specYAML)
        let outcome = try await store.register(
            claim, spec, upstreamStages: Self.upstream(of: stage.name, in: pipeline.graph))
        var metadata: Logger.Metadata = [
            LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.runID: "\(claim.runID.lowercased)",
            "model": "\(spec.model)",
        ]
        switch outcome {
        case .registered(let registration):
            metadata["version"] = "\(registration.version)"
            metadata["artifact_uri"] = "\(registration.artifactURI)"
            logger.info(
                registration.isNew ? "model version registered" : "model version found registered",
                metadata: metadata)
            EngineMetrics.attemptFinished(state: AttemptState.succeeded.rawValue)
        case .missingArtifact(let reason):
            if try await store.finishAttempt(claim, state: .failed, error: reason, errorType: "missing_artifact") {
                EngineMetrics.attemptFinished(state: AttemptState.failed.rawValue)
            }
        case .fencedOut:
            logger.info("registration fenced out (lease lost)", metadata: metadata)
        }
    }

    /// Every stage `stage` needs, directly or transitively.
    static func upstream(of stage: String, in graph: StageGraph) -> [String] {
        var seen: Set<String> = []
        var pending = graph.needs[stage] ?? []
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            pending += graph.needs[next] ?? []
        }
        return seen.sorted()
    }
}
