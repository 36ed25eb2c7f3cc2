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

    /// A report of step `index`.
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
