// MARK: - KafkaProducerConfiguration

/// How a ``KafkaProducer`` connects and delivers.
///
/// The producer is always idempotent with `acks=all`: a record the broker acknowledged is
/// written once, in order, to all in-sync replicas. Those two settings cannot be changed.
public struct KafkaProducerConfiguration: Sendable, CustomStringConvertible {
    /// The brokers to contact first, as `host:port`.
    public var bootstrapServers: [String]
    /// The client id the brokers see in their logs and quotas. Default: `"baton"`.
    public var clientID: String = "baton"
    /// How long librdkafka tries to deliver one record before ``KafkaProducer/send(_:)`` fails
    /// with ``KafkaError/Code/messageTimedOut`` (`message.timeout.ms`). Default: `.seconds(30)`.
    public var messageTimeout: Duration = .seconds(30)
    /// How long a record for a topic the brokers do not know waits for the topic to appear before
    /// ``KafkaProducer/send(_:)`` fails with `UNKNOWN_TOPIC_OR_PART`
    /// (`topic.metadata.propagation.max.ms`; librdkafka's default is 30 s). Baton creates its
    /// topics before it sends, so a missing topic is a real absence (a pool nobody provisioned, a
    /// broker that lost its data): failing fast lets the outbox relay defer that record and publish
    /// the rest instead of holding its whole batch. Default: `.seconds(2)`.
    public var missingTopicTimeout: Duration = .seconds(2)
    /// How long librdkafka waits to batch records before sending (`linger.ms`). Default: zero:
    /// Baton's records are small and on the critical path of a hand-off (5 ms, librdkafka's own
    /// default, added 5 ms to each of its two relay hops); records queued while a request is in
    /// flight still go out together.
    public var linger: Duration = .zero
    /// How long the producer's poll thread waits for delivery reports per round; bounds how late
    /// shutdown notices it was asked to stop. Default: `.milliseconds(100)`.
    public var pollInterval: Duration = .milliseconds(100)
    /// Further librdkafka properties, passed through verbatim, such as `security.protocol`,
    /// `sasl.mechanisms`, `sasl.username`, `sasl.password` or `compression.type`. Values of keys
    /// that contain "password", "secret" or "key" are never logged or printed. Default: none.
    ///
    /// - Important: Keys with a typed property above, and `enable.idempotence` and `acks`, are
    ///   refused here: creating the producer throws ``KafkaError/Code/invalidConfiguration``.
    public var extra: [String: String] = [:]

    /// Creates a configuration.
    ///
    /// - Parameter bootstrapServers: The brokers to contact first, as `host:port`.
    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    /// The configuration as librdkafka properties, secrets redacted.
    public var description: String {
        let rendered = (try? properties().redactedDescription) ?? "<invalid>"
        return "KafkaProducerConfiguration(\(rendered))"
    }

    /// The librdkafka properties this configuration stands for.
    func properties() throws(KafkaError) -> KafkaConfigurationProperties {
        guard !bootstrapServers.isEmpty else {
            throw KafkaError.invalidConfiguration("bootstrapServers is empty: name at least one broker as host:port.")
        }
        var properties = KafkaConfigurationProperties()
        properties.set("bootstrap.servers", bootstrapServers.joined(separator: ","))
        properties.set("client.id", clientID)
        properties.set("enable.idempotence", "true")
        properties.set("acks", "all")
        properties.set("message.timeout.ms", milliseconds: messageTimeout)
        properties.set("linger.ms", milliseconds: linger)
        properties.set("topic.metadata.propagation.max.ms", milliseconds: missingTopicTimeout)
        try properties.apply(extra: extra, managed: Self.managedKeys)
        return properties
    }

    static let managedKeys: [String: String] = [
        "bootstrap.servers": "set bootstrapServers",
        "metadata.broker.list": "set bootstrapServers",
        "client.id": "set clientID",
        "enable.idempotence": "the producer is always idempotent",
        "acks": "the producer always uses acks=all",
        "request.required.acks": "the producer always uses acks=all",
        "message.timeout.ms": "set messageTimeout",
        "delivery.timeout.ms": "set messageTimeout",
        "linger.ms": "set linger",
        "queue.buffering.max.ms": "set linger",
        "topic.metadata.propagation.max.ms": "set missingTopicTimeout",
    ]
}
