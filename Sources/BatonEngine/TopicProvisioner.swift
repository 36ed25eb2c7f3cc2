import BatonCore
import BatonKafka
import Logging

/// Creates the topics Baton uses (already existing ones are fine).
public enum TopicProvisioner {
    /// Creates the requests, run events and dead-letter topics and one `stage.ready` topic per pool.
    public static func provision(_ configuration: EngineConfiguration, logger: Logger) async throws {
        var adminConfiguration = KafkaAdminConfiguration(bootstrapServers: configuration.brokers)
        adminConfiguration.extra = configuration.kafkaProperties
        let admin = try KafkaAdmin(configuration: adminConfiguration, logger: logger)
        let names =
            [configuration.topics.requested, configuration.topics.runEvents, configuration.topics.deadLetters]
            + configuration.pools.map(configuration.topics.stageReady(pool:))
        try await admin.createTopics(names.map { KafkaTopicSpec(name: $0, partitions: configuration.partitions) })
    }
}
