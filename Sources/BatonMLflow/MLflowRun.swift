/// An MLflow run as the tracking API returns it: its info, and its params, metrics and tags.
public struct MLflowRun: Sendable, Decodable {
    /// Identity, status and times of a run.
    public struct Info: Sendable, Decodable {
        /// The run's id, as MLflow assigned it.
        public var runID: String
        /// The id of the experiment the run belongs to.
        public var experimentID: String
        /// The run's display name; nil when it has none.
        public var runName: String?
        /// Where the run is in its lifecycle.
        public var status: MLflowRunStatus
        /// Milliseconds since the epoch.
        public var startTime: Int64?
        /// Milliseconds since the epoch, once the run ended.
        public var endTime: Int64?
        /// `active` or `deleted`.
        public var lifecycleStage: String?

        enum CodingKeys: String, CodingKey {
            case status
            case runID = "run_id"
            case experimentID = "experiment_id"
            case runName = "run_name"
            case startTime = "start_time"
            case endTime = "end_time"
            case lifecycleStage = "lifecycle_stage"
        }
    }

    /// What was logged to a run. MLflow returns the latest value of each metric here.
    public struct Contents: Sendable, Decodable {
        /// The latest value of each metric logged.
        public var metrics: [MLflowMetric]
        /// The params logged.
        public var params: [MLflowParam]
        /// The tags set.
        public var tags: [MLflowTag]

        /// Decodes the contents as MLflow returns them, missing lists read as empty.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            metrics = try container.decodeIfPresent([MLflowMetric].self, forKey: .metrics) ?? []
            params = try container.decodeIfPresent([MLflowParam].self, forKey: .params) ?? []
            tags = try container.decodeIfPresent([MLflowTag].self, forKey: .tags) ?? []
        }

        enum CodingKeys: String, CodingKey { case metrics, params, tags }
    }

    /// The run's identity, status and times.
    public var info: Info
    /// What was logged to the run.
    public var data: Contents

    /// The run's tags by key.
    public var tags: [String: String] { Dictionary(data.tags.map { ($0.key, $0.value) }) { $1 } }
    /// The run's params by key.
    public var params: [String: String] { Dictionary(data.params.map { ($0.key, $0.value) }) { $1 } }
}

/// The status of an MLflow run.
public enum MLflowRunStatus: String, Sendable, Codable {
    case scheduled = "SCHEDULED"
    case running = "RUNNING"
    case finished = "FINISHED"
    case failed = "FAILED"
    case killed = "KILLED"

    /// Whether the run has ended.
    public var isTerminal: Bool { self == .finished || self == .failed || self == .killed }
}
