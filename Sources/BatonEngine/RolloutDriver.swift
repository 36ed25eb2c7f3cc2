import Foundation

/// A registered model version as a rollout sees it.
public struct RolloutModel: Sendable, Hashable, Codable {
    public var name: String
    public var version: Int
    /// Where the serving side loads it from (the artifact URI).
    public var uri: String
    public var md5: String?

    public init(name: String, version: Int, uri: String, md5: String?) {
        self.name = name
        self.version = version
        self.uri = uri
        self.md5 = md5
    }
}

/// One step of a canary, as written in a `rollout` stage.
public enum RolloutStep: Sendable, Hashable {
    /// Send this percentage (0...100) of traffic to the candidate.
    case setWeight(Int)
    /// Hold the current weights for this long.
    case pause(Duration)
    /// Run the named analysis (queries, success conditions, interval, count, failure limit).
    case analysis(template: String)
}

/// What a step did, reported as it happens (each report becomes a `rollout.step` event).
public struct RolloutStepReport: Sendable, Hashable, Codable {
    /// The 0-based index of the step in the rollout.
    public var index: Int
    /// `setWeight`, `pause` or `analysis`.
    public var kind: String
    /// The candidate's share of traffic after the step.
    public var weight: Int
    /// `succeeded`, `failed` or `running`.
    public var phase: String
    /// For analysis: the measurements taken, e.g. `{"success-rate": 0.998}`.
    public var measurements: [String: Double]
    /// Why a step failed, with the failing measurement and its condition.
    public var message: String?

    public init(
        index: Int, kind: String, weight: Int, phase: String, measurements: [String: Double] = [:],
        message: String? = nil
    ) {
        self.index = index
        self.kind = kind
        self.weight = weight
        self.phase = phase
        self.measurements = measurements
        self.message = message
    }
}

/// How a rollout ended.
public enum RolloutResult: Sendable, Hashable {
    /// The candidate serves all traffic.
    case succeeded
    /// Traffic is back on the stable model; `reason` names the failing step and measurement.
    case aborted(reason: String)
}

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
    func run(
        candidate: RolloutModel, stable: RolloutModel?, steps: [RolloutStep],
        report: @Sendable (RolloutStepReport) async throws -> Void
    ) async throws -> RolloutResult
}
