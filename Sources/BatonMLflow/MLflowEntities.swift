/// A metric point: MLflow keeps every (key, timestamp, step, value) point once.
public struct MLflowMetric: Sendable, Codable, Hashable {
    /// The metric's name.
    public var key: String
    /// Non-finite values travel as the strings `NaN`, `Infinity`, `-Infinity`, as MLflow's JSON does.
    public var value: Double
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    /// The training step the value belongs to; 0 when none was given.
    public var step: Int64

    /// A metric point with the given fields.
    public init(key: String, value: Double, timestamp: Int64, step: Int64 = 0) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
    }

    /// Decodes a point as MLflow returns it; a missing timestamp or step is 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        if let number = try? container.decode(Double.self, forKey: .value) {
            value = number
        } else {
            switch try container.decode(String.self, forKey: .value) {
            case "Infinity": value = .infinity
            case "-Infinity": value = -.infinity
            default: value = .nan
            }
        }
        timestamp = try container.decodeIfPresent(Int64.self, forKey: .timestamp) ?? 0
        step = try container.decodeIfPresent(Int64.self, forKey: .step) ?? 0
    }

    /// Encodes the point as MLflow expects it, non-finite values as strings.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        if value.isFinite {
            try container.encode(value, forKey: .value)
        } else {
            try container.encode(value.isNaN ? "NaN" : value > 0 ? "Infinity" : "-Infinity", forKey: .value)
        }
        try container.encode(timestamp, forKey: .timestamp)
        try container.encode(step, forKey: .step)
    }

    enum CodingKeys: String, CodingKey { case key, value, timestamp, step }
}

/// A run parameter. MLflow keeps the first value of a key and refuses a different one later.
public struct MLflowParam: Sendable, Codable, Hashable {
    /// The param's name.
    public var key: String
    /// The param's value, as text.
    public var value: String

    /// A param with the given key and value.
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A run tag: a key with a mutable value.
public struct MLflowTag: Sendable, Codable, Hashable {
    /// The tag's name.
    public var key: String
    /// The tag's current value.
    public var value: String

    /// A tag with the given key and value.
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// An MLflow experiment.
public struct MLflowExperiment: Sendable, Decodable {
    /// The experiment's id, as MLflow assigned it.
    public var experimentID: String
    /// The experiment's name, unique in the tracking server.
    public var name: String
    /// `active` or `deleted`.
    public var lifecycleStage: String?

    enum CodingKeys: String, CodingKey {
        case name
        case experimentID = "experiment_id"
        case lifecycleStage = "lifecycle_stage"
    }
}
