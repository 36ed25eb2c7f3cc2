// MARK: - KafkaHeader

/// One header of a Kafka record: a name and an optional binary value.
///
/// Kafka distinguishes a header whose value is absent (`nil`) from one whose value is empty
/// (`[]`); both round-trip through BatonKafka. Header names may repeat within a record.
public struct KafkaHeader: Hashable, Sendable {
    /// The header's name, such as `ce_type`.
    public var key: String
    /// The header's value, or `nil` for a header without a value.
    public var value: [UInt8]?

    /// Creates a header with a binary value.
    ///
    /// - Parameters:
    ///   - key: The header's name.
    ///   - value: The value's bytes, or `nil` for no value.
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// Creates a header whose value is the UTF-8 bytes of a string.
    ///
    /// - Parameters:
    ///   - key: The header's name.
    ///   - value: The value, stored as UTF-8.
    public init(key: String, value: String) {
        self.key = key
        self.value = Array(value.utf8)
    }

    /// The value decoded as UTF-8, or `nil` when there is no value or it is not valid UTF-8.
    public var stringValue: String? {
        guard let value else { return nil }
        return String(validating: value, as: UTF8.self)
    }
}
