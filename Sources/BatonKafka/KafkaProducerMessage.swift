// MARK: - KafkaProducerMessage

/// A record to send with ``KafkaProducer/send(_:)``.
///
/// Records with the same key land in the same partition (librdkafka's default partitioner), so
/// keying by run id keeps one run's events in order.
public struct KafkaProducerMessage: Sendable {
    /// The topic to send to.
    public var topic: String
    /// The partition to send to, or `nil` to let the partitioner choose from the key.
    /// Default: `nil`.
    public var partition: Int32?
    /// The record's key, or `nil` for a record without a key.
    public var key: [UInt8]?
    /// The record's value. An empty value is sent as empty, never as null (a tombstone).
    public var value: [UInt8]
    /// The record's headers, in order. Default: none.
    public var headers: [KafkaHeader]

    /// Creates a record with a binary key.
    ///
    /// - Parameters:
    ///   - topic: The topic to send to.
    ///   - partition: A fixed partition, or `nil` to partition by key.
    ///   - key: The key's bytes, or `nil`.
    ///   - value: The value's bytes.
    ///   - headers: The headers, in order.
    public init(
        topic: String,
        partition: Int32? = nil,
        key: [UInt8]?,
        value: [UInt8],
        headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// Creates a record whose key is the UTF-8 bytes of a string.
    ///
    /// - Parameters:
    ///   - topic: The topic to send to.
    ///   - partition: A fixed partition, or `nil` to partition by key.
    ///   - key: The key, stored as UTF-8.
    ///   - value: The value's bytes.
    ///   - headers: The headers, in order.
    public init(
        topic: String,
        partition: Int32? = nil,
        key: String,
        value: [UInt8],
        headers: [KafkaHeader] = []
    ) {
        self.init(topic: topic, partition: partition, key: Array(key.utf8), value: value, headers: headers)
    }
}
