import BatonCore
import Foundation

/// A run as `baton runs list` shows it.
public struct RunSummary: Sendable, Hashable, Codable {
    /// The run's id, lowercased.
    public var runId: String
    /// The pipeline's name.
    public var pipeline: String
    /// The applied pipeline version the run used; nil for an inline spec.
    public var pipelineVersion: Int?
    /// The run's state.
    public var state: RunState
    /// Why the run ended as it did (failure, cancellation); nil when there is nothing to explain.
    public var reason: String?
    /// When the run was created.
    public var createdAt: Date
    /// When the run ended; nil while it runs.
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
    /// The attempt's id, lowercased.
    public var attemptId: String
    /// The 1-based attempt number of the stage in its run.
    public var attempt: Int
    /// The attempt's state.
    public var state: AttemptState
    /// The worker instance holding or last holding the attempt's lease; nil if none claimed it.
    public var worker: String?
    /// How many times the attempt's work was executed (1 for exactly-once).
    public var executions: Int
    /// When a worker claimed the attempt; nil while it is queued.
    public var startedAt: Date?
    /// When the attempt ended; nil while it runs.
    public var finishedAt: Date?
    /// Seconds from start to end, to the millisecond; nil until the attempt ended.
    public var durationSeconds: Double?
    /// A readable error, for failures.
    public var error: String?
    /// A machine-readable class of failure, e.g. `timeout`, `worker_lost`, `job_failed`.
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
    /// The stage's name in the spec.
    public var name: String
    /// What kind of stage it is.
    public var kind: StageKind
    /// The worker pool that runs the stage's attempts.
    public var pool: String
    /// The stage's state.
    public var state: StageState
    /// How many attempts were made.
    public var attempts: Int
    /// Why the stage ended as it did (e.g. skipped, failed); nil when there is nothing to explain.
    public var reason: String?
    /// When the stage started; nil until it did.
    public var startedAt: Date?
    /// When the stage ended; nil until it did.
    public var finishedAt: Date?
    /// Seconds from start to end, to the millisecond; nil until the stage ended.
    public var durationSeconds: Double?
    /// Every attempt of the stage.
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
    /// The run's id, lowercased.
    public var runId: String
    /// The pipeline's name.
    public var pipeline: String
    /// The applied pipeline version the run used; nil for an inline spec.
    public var pipelineVersion: Int?
    /// The run's state.
    public var state: RunState
    /// Why the run ended as it did (failure, cancellation); nil when there is nothing to explain.
    public var reason: String?
    /// The run's resolved params.
    public var params: [String: JSONValue]
    /// When the run was created.
    public var createdAt: Date
    /// When the run ended; nil while it runs.
    public var finishedAt: Date?
    /// The run's stages, in spec order.
    public var stages: [StageView]

    enum CodingKeys: String, CodingKey {
        case pipeline, state, reason, params, stages
        case runId = "run_id"
        case pipelineVersion = "pipeline_version"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
    }
}
