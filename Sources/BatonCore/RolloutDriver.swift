/// Moves traffic from the stable model to a candidate on one serving platform: Ray Serve
/// (Baton steps the weights itself and runs the analyses) or Argo Rollouts (Argo steps the
/// Rollout; Baton updates it and follows its status).
///
/// A driver must be safe to run again after a crash: the rollout executor of a new lease calls
/// `run` again for the same candidate, and the driver picks up from what the platform reports.
/// Between rollouts, a platform that can lose what it serves (``canLoseServing``) has the sweeper
/// call ``restoreServing(champion:)`` to put the champion back.
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

    /// Whether the platform can lose what a finished rollout left serving, so that the sweeper
    /// should check each champion with ``restoreServing(champion:)``: Ray Serve can (KubeRay's PUT
    /// of its own applications, a head restart); an Argo Rollout is kept by Kubernetes.
    var canLoseServing: Bool { get }

    /// Deploys `champion` again, alone and with all traffic, when the platform no longer serves it
    /// the way its rollout left it; leaves the model as it is otherwise.
    ///
    /// The sweeper calls it only for a model whose champion a rollout to this platform put in
    /// place and that has no rollout in progress; the driver still decides from what the platform
    /// reports, atomically with its other writers, so a rollout that starts meanwhile wins.
    ///
    /// - Parameter champion: the model's `champion` version.
    /// - Returns: what was found and done.
    /// - Throws: a ``RolloutDriverError`` when the platform cannot be read or the champion
    ///   cannot be deployed.
    func restoreServing(champion: RolloutModel) async throws -> ServingRestoreOutcome
}

extension RolloutDriver {
    /// Default: `false`, the platform keeps what a rollout left.
    public var canLoseServing: Bool { false }

    /// Default: ``ServingRestoreOutcome/alreadyServing``, for a platform that keeps what a rollout
    /// left (Kubernetes keeps an Argo Rollout and its ReplicaSets).
    public func restoreServing(champion: RolloutModel) async throws -> ServingRestoreOutcome { .alreadyServing }
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
