// MARK: - KafkaConsumerConfiguration

/// How a ``KafkaConsumer`` joins its group and fetches.
///
/// Offsets are never committed automatically (`enable.auto.commit=false`): the application
/// commits each record with ``KafkaConsumer/commit(_:)`` after it has processed it.
public struct KafkaConsumerConfiguration: Sendable, CustomStringConvertible {
    /// The brokers to contact first, as `host:port`.
    public var bootstrapServers: [String]
    /// The consumer group (`group.id`); the group's members share the topics' partitions.
    public var groupID: String
    /// The topics to subscribe to.
    public var topics: [String]
    /// The client id the brokers see in their logs and quotas. Default: `"baton"`.
    public var clientID: String = "baton"
    /// Where to start in a partition for which the group has no committed offset
    /// (`auto.offset.reset`). Default: `.earliest`.
    public var autoOffsetReset: AutoOffsetReset = .earliest
    /// How long the group coordinator waits for a heartbeat before it removes this member
    /// (`session.timeout.ms`). Default: `.seconds(45)`.
    public var sessionTimeout: Duration = .seconds(45)
    /// How often this member heartbeats to the coordinator (`heartbeat.interval.ms`); a rebalance
    /// is noticed within about one interval. Default: `.seconds(3)`.
    public var heartbeatInterval: Duration = .seconds(3)
    /// How long a member may go without polling before it leaves the group
    /// (`max.poll.interval.ms`). BatonKafka polls on its own thread, so this rarely matters.
    /// Default: `.seconds(300)`.
    public var maxPollInterval: Duration = .seconds(300)
    /// The partition assignment strategies, in order of preference
    /// (`partition.assignment.strategy`). All members of a group must share one; the
    /// cooperative strategy moves only the partitions that change owner.
    /// Default: `[.range, .roundRobin]` (eager, librdkafka's default).
    public var partitionAssignmentStrategies: [PartitionAssignmentStrategy] = [.range, .roundRobin]
    /// How many received records may wait in ``KafkaConsumer/messages`` before fetching pauses;
    /// fetching resumes once half of them have been taken. Each pause costs up to
    /// `fetch.wait.max.ms` (500 ms by default) when fetching resumes, so keep it well above the
    /// number of records processed per second. Default: `256`.
    public var messageBufferSize: Int = 256
    /// How long one poll of librdkafka waits on the consumer's thread; bounds how late the
    /// consumer notices it was asked to stop. Default: `.milliseconds(100)`.
    public var pollInterval: Duration = .milliseconds(100)
    /// On graceful shutdown, how long the consumer keeps serving ``KafkaConsumer/commit(_:)``
    /// for the record being processed, waiting for the application to ask for the next record,
    /// before it closes. Default: `.seconds(10)`.
    public var shutdownGracePeriod: Duration = .seconds(10)
    /// How often librdkafka reports the consumer's partitions' lag and fetch state
    /// (`statistics.interval.ms`) to ``onStatistics``; also how soon a consumer positioned past
    /// the end of a partition (the broker lost records) starts it again. Default: `.seconds(5)`.
    public var statisticsInterval: Duration = .seconds(5)
    /// Told each statistics report, on the consumer's poll thread: keep it short. Default: none.
    public var onStatistics: (@Sendable (KafkaConsumerStatistics) -> Void)?
    /// Further librdkafka properties, passed through verbatim, such as `security.protocol`,
    /// `sasl.mechanisms`, `sasl.username`, `sasl.password` or `fetch.max.bytes`. Values of keys
    /// that contain "password", "secret" or "key" are never logged or printed. Default: none.
    ///
    /// - Important: Keys with a typed property above, and `enable.auto.commit`, are refused here:
    ///   creating the consumer throws ``KafkaError/Code/invalidConfiguration``.
    public var extra: [String: String] = [:]

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - bootstrapServers: The brokers to contact first, as `host:port`.
    ///   - groupID: The consumer group.
    ///   - topics: The topics to subscribe to.
    public init(bootstrapServers: [String], groupID: String, topics: [String]) {
        self.bootstrapServers = bootstrapServers
        self.groupID = groupID
        self.topics = topics
    }

    /// The configuration as librdkafka properties, secrets redacted.
    public var description: String {
        let rendered = (try? properties().redactedDescription) ?? "<invalid>"
        return "KafkaConsumerConfiguration(topics=\(topics.joined(separator: ",")), \(rendered))"
    }

    /// The librdkafka properties this configuration stands for.
    func properties() throws(KafkaError) -> KafkaConfigurationProperties {
        guard !bootstrapServers.isEmpty else {
            throw KafkaError.invalidConfiguration("bootstrapServers is empty: name at least one broker as host:port.")
        }
        guard !groupID.isEmpty else {
            throw KafkaError.invalidConfiguration("groupID is empty: a consumer needs a consumer group.")
        }
        guard !topics.isEmpty else {
            throw KafkaError.invalidConfiguration("topics is empty: name at least one topic to subscribe to.")
        }
        guard !partitionAssignmentStrategies.isEmpty else {
            throw KafkaError.invalidConfiguration("partitionAssignmentStrategies is empty: name at least one.")
        }
        guard maxPollInterval >= sessionTimeout else {
            throw KafkaError.invalidConfiguration(
                "maxPollInterval (\(maxPollInterval)) must be at least sessionTimeout (\(sessionTimeout))."
            )
        }
        guard messageBufferSize > 0 else {
            throw KafkaError.invalidConfiguration("messageBufferSize must be at least 1.")
        }
        var properties = KafkaConfigurationProperties()
        properties.set("bootstrap.servers", bootstrapServers.joined(separator: ","))
        properties.set("client.id", clientID)
        properties.set("group.id", groupID)
        properties.set("enable.auto.commit", "false")
        properties.set("auto.offset.reset", autoOffsetReset.rawValue)
        properties.set("session.timeout.ms", milliseconds: sessionTimeout)
        properties.set("heartbeat.interval.ms", milliseconds: heartbeatInterval)
        properties.set("max.poll.interval.ms", milliseconds: maxPollInterval)
        properties.set("statistics.interval.ms", milliseconds: statisticsInterval)
        properties.set(
            "partition.assignment.strategy",
            partitionAssignmentStrategies.map(\.rawValue).joined(separator: ",")
        )
        try properties.apply(extra: extra, managed: Self.managedKeys)
        return properties
    }

    static let managedKeys: [String: String] = [
        "bootstrap.servers": "set bootstrapServers",
        "metadata.broker.list": "set bootstrapServers",
        "client.id": "set clientID",
        "group.id": "set groupID",
        "enable.auto.commit": "offsets are committed explicitly with commit(_:)",
        "auto.offset.reset": "set autoOffsetReset",
        "session.timeout.ms": "set sessionTimeout",
        "heartbeat.interval.ms": "set heartbeatInterval",
        "max.poll.interval.ms": "set maxPollInterval",
        "partition.assignment.strategy": "set partitionAssignmentStrategies",
        "statistics.interval.ms": "set statisticsInterval",
    ]
}

// MARK: - Options

extension KafkaConsumerConfiguration {
    /// Where a consumer starts in a partition for which its group has no committed offset.
    public struct AutoOffsetReset: Hashable, Sendable {
        let rawValue: String

        /// Start at the oldest record still retained.
        public static let earliest = AutoOffsetReset(rawValue: "earliest")
        /// Start after the newest record: only records produced from now on are received.
        public static let latest = AutoOffsetReset(rawValue: "latest")
        /// Fail instead of choosing: the consumer logs an error for the partition.
        public static let error = AutoOffsetReset(rawValue: "error")
    }

    /// How a consumer group divides partitions among its members.
    public struct PartitionAssignmentStrategy: Hashable, Sendable {
        let rawValue: String

        /// Eager: consecutive ranges of each topic's partitions per member.
        public static let range = PartitionAssignmentStrategy(rawValue: "range")
        /// Eager: partitions dealt to members in turn.
        public static let roundRobin = PartitionAssignmentStrategy(rawValue: "roundrobin")
        /// Cooperative (incremental): only partitions that change owner are revoked.
        public static let cooperativeSticky = PartitionAssignmentStrategy(rawValue: "cooperative-sticky")
    }
}
