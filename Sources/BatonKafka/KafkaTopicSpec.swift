// MARK: - KafkaTopicSpec

/// A topic to create with ``KafkaAdmin/createTopics(_:timeout:)``.
public struct KafkaTopicSpec: Hashable, Sendable {
    /// The topic's name.
    public var name: String
    /// How many partitions the topic has. Default: 1.
    public var partitions: Int32
    /// How many replicas each partition has. Default: 1 (a single local broker).
    public var replicationFactor: Int16
    /// Topic-level settings passed verbatim, such as `retention.ms` or `cleanup.policy`.
    /// Default: none.
    public var configs: [String: String]

    /// Creates a topic specification.
    ///
    /// - Parameters:
    ///   - name: The topic's name.
    ///   - partitions: The number of partitions.
    ///   - replicationFactor: The number of replicas.
    ///   - configs: Topic-level settings.
    public init(name: String, partitions: Int32 = 1, replicationFactor: Int16 = 1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}
