/// A metric point: MLflow keeps every (key, timestamp, step, value) point once.
public struct MLflowMetric: Sendable, Codable, Hashable {
    public var key: String
    /// Non-finite values travel as the strings `NaN`, `Infinity`, `-Infinity`, as MLflow's JSON does.
    public var value: Double
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    public var step: Int64

    public init(key: String, value: Double, timestamp: Int64, step: Int64 = 0) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
    }

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
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A run tag: a key with a mutable value.
public struct MLflowTag: Sendable, Codable, Hashable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// An MLflow experiment.
public struct MLflowExperiment: Sendable, Decodable {
    public var experimentID: String
    public var name: String
    /// `active` or `deleted`.
    public var lifecycleStage: String?

    enum CodingKeys: String, CodingKey {
        case name
        case experimentID = "experiment_id"
        case lifecycleStage = "lifecycle_stage"
    }
}
