// MARK: - KafkaLogMetadataKey

/// The metadata keys BatonKafka puts on its log records, in one place.
enum KafkaLogMetadataKey {
    /// The client id (`client.id`).
    static let clientID = "kafka.client_id"
    /// The consumer group (`group.id`).
    static let groupID = "kafka.group_id"
    /// The librdkafka facility of a log line, such as `FAIL` or `CGRPSTATE`.
    static let facility = "kafka.facility"
    /// A topic.
    static let topic = "kafka.topic"
    /// A partition.
    static let partition = "kafka.partition"
    /// An offset.
    static let offset = "kafka.offset"
    /// A list of topic-partitions.
    static let partitions = "kafka.partitions"
    /// librdkafka's symbolic error name.
    static let error = "kafka.error"
    /// The rebalance protocol (`EAGER` or `COOPERATIVE`).
    static let rebalanceProtocol = "kafka.rebalance_protocol"
    /// The rendered configuration, secrets redacted.
    static let configuration = "kafka.configuration"
}
