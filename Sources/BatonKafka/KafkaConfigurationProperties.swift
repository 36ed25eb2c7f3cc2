// MARK: - KafkaConfigurationProperties

/// The librdkafka properties that a configuration struct renders to, in a stable order.
///
/// Values of keys that may hold secrets are never printed: ``redactedDescription`` replaces them,
/// and errors about a property name only its key.
struct KafkaConfigurationProperties: Sendable, Equatable {
    /// Key fragments (lower case) whose values are never printed.
    static let secretKeyFragments = [
        "password", "secret", "key", "token", "credential", "jaas", "sasl.oauthbearer.config",
    ]

    /// The properties, in the order they are applied to librdkafka.
    private(set) var entries: [(key: String, value: String)] = []

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.key == $1.key && $0.value == $1.value }
    }

    /// Sets `key`, replacing an earlier value of the same key.
    mutating func set(_ key: String, _ value: String) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        } else {
            entries.append((key, value))
        }
    }

    /// Sets `key` to a duration in whole milliseconds.
    mutating func set(_ key: String, milliseconds duration: Duration) {
        set(key, String(Self.milliseconds(duration)))
    }

    /// Applies the verbatim `extra` properties after refusing keys that Baton manages.
    ///
    /// - Parameters:
    ///   - extra: The user's properties.
    ///   - managed: Keys Baton sets itself, each with the property or reason to give instead.
    /// - Throws: ``KafkaError/Code/invalidConfiguration`` when `extra` holds a managed key.
    mutating func apply(extra: [String: String], managed: [String: String]) throws(KafkaError) {
        for key in extra.keys.sorted() {
            if let instead = managed[key] {
                throw KafkaError.invalidConfiguration(
                    "The librdkafka property '\(key)' is managed by BatonKafka and cannot be set through `extra`: \(instead)."
                )
            }
            set(key, extra[key]!)
        }
    }

    /// The value of `key`, if set.
    subscript(key: String) -> String? {
        entries.first { $0.key == key }?.value
    }

    /// Whether the value of `key` must never be printed.
    static func isSecret(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return secretKeyFragments.contains { lowered.contains($0) }
    }

    /// `key=value` pairs separated by commas, secrets replaced by `<redacted>`.
    var redactedDescription: String {
        entries.map { "\($0.key)=\(Self.isSecret($0.key) ? "<redacted>" : $0.value)" }.joined(separator: ", ")
    }

    /// A duration in whole milliseconds, clamped to librdkafka's `int` range.
    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1000)
        guard !total.overflow else { return seconds < 0 ? 0 : Int32.max }
        let milliseconds = total.partialValue + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}
