import Logging

// MARK: - KafkaAdmin

/// Administers a Kafka cluster: creates topics.
///
/// Each operation runs its blocking librdkafka calls on a thread of its own, never on Swift's
/// cooperative pool.
public final class KafkaAdmin: Sendable {
    /// The configuration the client was created with.
    public let configuration: KafkaAdminConfiguration

    private let client: RDKafkaClient

    /// Creates an admin client.
    ///
    /// - Parameters:
    ///   - configuration: The brokers and options.
    ///   - logger: Where librdkafka logs.
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/invalidConfiguration`` or
    ///   ``KafkaError/Code/clientCreationFailed``.
    public init(configuration: KafkaAdminConfiguration, logger: Logger) throws {
        let properties = try configuration.properties()
        var logger = logger
        logger[metadataKey: KafkaLogMetadataKey.clientID] = "\(configuration.clientID)"
        self.client = try RDKafkaClient.make(
            kind: .admin,
            properties: properties,
            context: RDKafkaClientContext(logger: logger)
        )
        self.configuration = configuration
    }

    deinit {
        // rd_kafka_destroy blocks until librdkafka's threads end: not on the caller's thread.
        let client = self.client
        _ = KafkaPollThread.start(name: "baton-kafka-admin-destroy") { _ in client.destroy() }
    }

    /// Destroys the client and waits until librdkafka's threads have ended (on a thread of its
    /// own). Call it before the process exits: a librdkafka thread still running while the
    /// process tears down crashes it (`free(): invalid pointer`). Operations after it fail with
    /// ``KafkaError/Code/clientClosed``.
    public func close() async {
        let client = self.client
        await KafkaPollThread.start(name: "baton-kafka-admin-destroy") { _ in client.destroy() }.join()
    }

    /// Creates topics; a topic that already exists counts as created, whatever its settings.
    ///
    /// - Parameters:
    ///   - topics: The topics to create.
    ///   - timeout: How long the brokers may take. Default: `.seconds(30)`.
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/topicCreationFailed`` naming each topic
    ///   that failed, ``KafkaError/Code/timedOut`` when the brokers did not answer in time, or
    ///   ``KafkaError/Code/invalidConfiguration`` for an invalid specification.
    public func createTopics(_ topics: [KafkaTopicSpec], timeout: Duration = .seconds(30)) async throws {
        let client = self.client
        try await KafkaPollThread.runBlocking(name: "baton-kafka-admin") { () throws(KafkaError) in
            try client.createTopics(topics, timeout: timeout)
        }
    }
}
