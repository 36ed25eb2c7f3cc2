import BatonCore
import Foundation

/// A run as `baton runs list` shows it.
public struct RunSummary: Sendable, Hashable, Codable {
    public var runId: String
    public var pipeline: String
    public var pipelineVersion: Int?
    public var state: RunState
    public var reason: String?
    public var createdAt: Date
    public var finishedAt: Date?

    enum CodingKeys: String, CodingKey {
        case pipeline, state, reason
        case runId = "run_id"
        case pipelineVersion = "pipeline_version"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
    }
}

/// One attempt of a stage, as `baton runs show` lists it.
public struct AttemptView: Sendable, Hashable, Codable {
    public var attemptId: String
    public var attempt: Int
    public var state: AttemptState
    public var worker: String?
    public var executions: Int
    public var startedAt: Date?
    public var finishedAt: Date?
    public var durationSeconds: Double?
    public var error: String?
    public var errorType: String?
    /// The Ray job's last status, for `ray` stages.
    public var rayStatus: String?
    /// Outputs the job reported.
    public var outputs: [JobOutput]
    /// Each metric's value at its last step.
    public var metrics: [String: Double]
    /// For a gate attempt that reached a decision: the decision with the values it saw.
    public var gate: GateDecisionView?

    enum CodingKeys: String, CodingKey {
        case attempt, state, worker, executions, error, outputs, metrics, gate
        case rayStatus = "ray_status"
        case attemptId = "attempt_id"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationSeconds = "duration_seconds"
        case errorType = "error_type"
    }
}

/// One stage of a run, with its attempts.
public struct StageView: Sendable, Hashable, Codable {
    public var name: String
    public var kind: StageKind
    public var pool: String
    public var state: StageState
    /// How many attempts were made.
    public var attempts: Int
    public var reason: String?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var durationSeconds: Double?
    public var attemptHistory: [AttemptView]

    enum CodingKeys: String, CodingKey {
        case name, kind, pool, state, attempts, reason
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationSeconds = "duration_seconds"
        case attemptHistory = "attempt_history"
    }
}

/// A run with its params and stages, as `baton runs show` prints it.
public struct RunView: Sendable, Hashable, Codable {
    public var runId: String
    public var pipeline: String
    public var pipelineVersion: Int?
    public var state: RunState
    public var reason: String?
    public var params: [String: JSONValue]
    public var createdAt: Date
    public var finishedAt: Date?
    public var stages: [StageView]

    enum CodingKeys: String, CodingKey {
        case pipeline, state, reason, params, stages
        case runId = "run_id"
        case pipelineVersion = "pipeline_version"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
    }
}
