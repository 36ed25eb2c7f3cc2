/// A registered model in MLflow's model registry.
public struct MLflowRegisteredModel: Sendable, Decodable {
    /// An alias and the MLflow version it points at.
    public struct Alias: Sendable, Decodable, Hashable {
        public var alias: String
        public var version: String
    }

    public var name: String
    public var tags: [MLflowTag]
    public var aliases: [Alias]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        tags = try container.decodeIfPresent([MLflowTag].self, forKey: .tags) ?? []
        aliases = try container.decodeIfPresent([Alias].self, forKey: .aliases) ?? []
    }

    enum CodingKeys: String, CodingKey { case name, tags, aliases }
}

/// A version of a registered model in MLflow's model registry. MLflow numbers versions itself
/// (as strings: `"1"`, `"2"`, ...).
public struct MLflowModelVersion: Sendable, Decodable {
    public var name: String
    public var version: String
    public var source: String?
    public var runID: String?
    /// `READY`, `PENDING_REGISTRATION` or `FAILED_REGISTRATION`.
    public var status: String?
    public var tags: [MLflowTag]
    public var aliases: [String]

    /// The version's tags by key.
    public var tagValues: [String: String] { Dictionary(tags.map { ($0.key, $0.value) }) { $1 } }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        version = try container.decode(String.self, forKey: .version)
        source = try container.decodeIfPresent(String.self, forKey: .source)
        runID = try container.decodeIfPresent(String.self, forKey: .runID)
        status = try container.decodeIfPresent(String.self, forKey: .status)
        tags = try container.decodeIfPresent([MLflowTag].self, forKey: .tags) ?? []
        aliases = try container.decodeIfPresent([String].self, forKey: .aliases) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case name, version, source, status, tags, aliases
        case runID = "run_id"
    }
}
