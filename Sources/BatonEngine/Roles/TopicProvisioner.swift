import BatonCore
import BatonKafka
import Logging
import ServiceLifecycle

/// Creates the topics Baton uses, at startup and again every `topicCheckInterval` while serving.
///
/// A broker that lost its data (a restarted in-memory broker, a cluster rebuilt from scratch)
/// comes back without Baton's topics; consumers of a missing topic see nothing and the relay's
/// records cannot be stored. Checking periodically re-creates them, so `serve` recovers without a
/// restart. Topics that exist are left as they are.
public struct TopicProvisioner: Service {
    private let admin: KafkaAdmin
    private let topics: [KafkaTopicSpec]
    private let interval: Duration
    private let logger: Logger

    /// The requests, run events and dead-letter topics and one `stage.ready` topic per pool, with
    /// the configuration's partitions, replication factor and `min.insync.replicas`.
    public init(configuration: EngineConfiguration, logger: Logger) throws {
        var adminConfiguration = KafkaAdminConfiguration(bootstrapServers: configuration.brokers)
        adminConfiguration.extra = configuration.kafkaProperties
        admin = try KafkaAdmin(configuration: adminConfiguration, logger: logger)
        let names =
            [configuration.topics.requested, configuration.topics.runEvents, configuration.topics.deadLetters]
            + configuration.pools.map(configuration.topics.stageReady(pool:))
        var configs: [String: String] = [:]
        if let replicas = configuration.topicMinInsyncReplicas { configs["min.insync.replicas"] = String(replicas) }
        topics = names.map {
            KafkaTopicSpec(
                name: $0, partitions: configuration.partitions,
                replicationFactor: configuration.topicReplicationFactor, configs: configs)
        }
        interval = configuration.topicCheckInterval
        var logger = logger
        logger[metadataKey: LogKeys.role] = "topics"
        self.logger = logger
    }

    /// Creates the topics that do not exist.
    ///
    /// - Throws: `KafkaError` when the brokers cannot be reached or refuse a topic.
    public func provision() async throws {
        try await admin.createTopics(topics, timeout: .seconds(15))
    }

    /// Re-creates missing topics every interval until graceful shutdown; failures are logged and
    /// tried again at the next check. Then closes the admin client before the process exits.
    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { break }
            do {
                try await provision()
            } catch {
                logger.warning("topic check failed; will try again", metadata: [LogKeys.error: "\(error)"])
            }
        }
        await admin.close()
    }
}
