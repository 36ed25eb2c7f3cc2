/// Moves traffic from the stable model to a candidate on one serving platform: Ray Serve
/// (Baton steps the weights itself and runs the analyses) or Argo Rollouts (Argo steps the
/// Rollout; Baton updates it and follows its status).
///
/// A driver must be safe to run again after a crash: the rollout executor of a new lease calls
/// `run` again for the same candidate, and the driver picks up from what the platform reports.
public protocol RolloutDriver: Sendable {
    /// Rolls `candidate` out through `steps`, reporting every step; on a failed step it sends
    /// all traffic back to `stable` (or removes the candidate when there is none) before
    /// returning `.aborted`.
    ///
    /// - Parameters:
    ///   - candidate: the version the run registered.
    ///   - stable: the model's champion, `nil` for a first rollout.
    ///   - rollout: the stage's steps and the analysis templates they may name.
    ///   - report: called after every step; a throw stops the rollout (a lost lease).
    /// - Throws: a ``RolloutDriverError`` when the platform cannot run the rollout at all.
    func run(
        candidate: RolloutModel, stable: RolloutModel?, rollout: RolloutSpec,
        report: @Sendable (RolloutStepReport) async throws -> Void
    ) async throws -> RolloutResult
}

/// Why a driver could not run a rollout (as opposed to a rollout that ran and aborted).
///
/// Every platform's error type conforms, so that the rollout executor records a readable reason
/// without knowing the platform.
public protocol RolloutDriverError: Error, CustomStringConvertible {
    /// What happened, in a sentence, with the platform's own message when it sent one.
    var reason: String { get }
    /// Whether a later attempt may succeed (the platform was unreachable or overloaded).
    var isRetriable: Bool { get }
}
