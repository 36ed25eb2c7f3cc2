/// A registered model in MLflow's model registry.
public struct MLflowRegisteredModel: Sendable, Decodable {
    /// An alias and the MLflow version it points at.
    public struct Alias: Sendable, Decodable, Hashable {
        /// The alias's name, e.g. `champion`.
        public var alias: String
        /// The MLflow version number it points at, as a string.
        public var version: String
    }

    /// The registered model's name.
    public var name: String
    /// The model's tags; empty when MLflow returns none.
    public var tags: [MLflowTag]
    /// The model's aliases; empty when MLflow returns none.
    public var aliases: [Alias]

    /// Decodes a registered model as MLflow returns it, missing lists read as empty.
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
    /// The registered model's name.
    public var name: String
    /// The version number MLflow gave it, as a string.
    public var version: String
    /// Where the version's artifacts are, as registered; nil when MLflow returns none.
    public var source: String?
    /// The MLflow run the version came from; nil when it names none.
    public var runID: String?
    /// `READY`, `PENDING_REGISTRATION` or `FAILED_REGISTRATION`.
    public var status: String?
    /// The version's tags; empty when MLflow returns none.
    public var tags: [MLflowTag]
    /// The aliases that point at this version; empty when none do.
    public var aliases: [String]

    /// The version's tags by key.
    public var tagValues: [String: String] { Dictionary(tags.map { ($0.key, $0.value) }) { $1 } }

    /// Decodes a model version as MLflow returns it, missing lists read as empty.
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
