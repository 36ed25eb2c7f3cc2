/// A registered model version as a rollout sees it.
public struct RolloutModel: Sendable, Hashable, Codable {
    /// The registered model's name.
    public var name: String
    /// The version number in the registry.
    public var version: Int
    /// Where the serving side loads it from (the artifact URI).
    public var uri: String
    /// The artifact's DVC md5, when known.
    public var md5: String?

    /// A version of `name` loaded from `uri`.
    public init(name: String, version: Int, uri: String, md5: String?) {
        self.name = name
        self.version = version
        self.uri = uri
        self.md5 = md5
    }
}
