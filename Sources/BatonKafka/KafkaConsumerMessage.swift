import Foundation

// MARK: - KafkaConsumerMessage

/// A record that a ``KafkaConsumer`` received.
///
/// Pass it back to ``KafkaConsumer/commit(_:)`` once it has been processed.
public struct KafkaConsumerMessage: Sendable {
    /// The record's topic.
    public var topic: String
    /// The record's partition.
    public var partition: Int32
    /// The record's offset in its partition.
    public var offset: Int64
    /// The record's key, or `nil` for a record without a key.
    public var key: [UInt8]?
    /// The record's value (empty for a record with a null value).
    public var value: [UInt8]
    /// The record's headers, in order.
    public var headers: [KafkaHeader]
    /// The record's timestamp (create time or log-append time), or `nil` when it has none.
    public var timestamp: Date?

    /// Creates a message; BatonKafka makes these, tests and fakes may too.
    ///
    /// - Parameters:
    ///   - topic: The topic.
    ///   - partition: The partition.
    ///   - offset: The offset.
    ///   - key: The key, or `nil`.
    ///   - value: The value.
    ///   - headers: The headers.
    ///   - timestamp: The timestamp, or `nil`.
    public init(
        topic: String,
        partition: Int32,
        offset: Int64,
        key: [UInt8]?,
        value: [UInt8],
        headers: [KafkaHeader] = [],
        timestamp: Date? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// The partition this record came from.
    public var topicPartition: KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: partition)
    }

    /// The key decoded as UTF-8, or `nil` when there is no key or it is not valid UTF-8.
    public var keyString: String? {
        guard let key else { return nil }
        return String(validating: key, as: UTF8.self)
    }

    /// The first header with the given name, if any.
    ///
    /// - Parameter key: The header's name.
    public func header(_ key: String) -> KafkaHeader? {
        headers.first { $0.key == key }
    }
}
