// MARK: - KafkaDeliveryReport

/// Where the broker stored a record that ``KafkaProducer/send(_:)`` delivered.
public struct KafkaDeliveryReport: Hashable, Sendable {
    /// The topic the record was written to.
    public var topic: String
    /// The partition the record was written to.
    public var partition: Int32
    /// The record's offset in its partition.
    public var offset: Int64

    /// Creates a delivery report.
    ///
    /// - Parameters:
    ///   - topic: The topic.
    ///   - partition: The partition.
    ///   - offset: The offset.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}
