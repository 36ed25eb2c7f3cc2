import BatonKafka
import BatonTestEnvironment
import Foundation
import Logging
import Synchronization
import Testing

// MARK: - KafkaTestEnvironment

/// The real broker of the local stack (`eval "$(scripts/stack env)"`), and helpers for tests
/// that use it.
enum KafkaTestEnvironment {
    /// The broker addresses from `BATON_KAFKA_BROKERS` (comma-separated).
    ///
    /// - Throws: `TestStack.MissingEnvironment` when the variable is unset, so the test fails.
    static func brokers() throws -> [String] { try TestStack.brokers() }

    /// A logger for tests; `BATON_KAFKA_TEST_LOG_LEVEL` (e.g. `debug`) makes it talk.
    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: "baton.kafka.test.\(label)")
        let level = ProcessInfo.processInfo.environment["BATON_KAFKA_TEST_LOG_LEVEL"].flatMap {
            Logger.Level(rawValue: $0)
        }
        logger.logLevel = level ?? .warning
        return logger
    }

    /// A name no other test (or earlier run against the same broker) uses.
    static func uniqueName(_ prefix: String) -> String {
        "baton-test-\(prefix)-\(TestStack.uniqueSuffix())"
    }

    /// A consumer configuration with short group timings, so that joins and rebalances are quick.
    static func consumerConfiguration(group: String, topics: [String]) throws -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: try brokers(), groupID: group, topics: topics)
        configuration.sessionTimeout = .seconds(6)
        configuration.heartbeatInterval = .milliseconds(500)
        configuration.maxPollInterval = .seconds(10)
        configuration.shutdownGracePeriod = .seconds(2)
        configuration.extra["topic.metadata.refresh.interval.ms"] = "1000"
        return configuration
    }

    /// A producer configuration with a bounded message timeout.
    static func producerConfiguration() throws -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(bootstrapServers: try brokers())
        configuration.messageTimeout = .seconds(15)
        return configuration
    }

    /// Creates topics on the test broker.
    static func createTopics(_ topics: [KafkaTopicSpec]) async throws {
        let admin = try KafkaAdmin(
            configuration: KafkaAdminConfiguration(bootstrapServers: try brokers()),
            logger: logger("admin")
        )
        try await admin.createTopics(topics, timeout: .seconds(15))
    }

    /// Waits until `condition` holds, checking every 50 ms, failing after `timeout`.
    static func waitUntil(
        _ what: String,
        timeout: Duration,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("Timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
                throw WaitTimedOut(what: what)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    struct WaitTimedOut: Error {
        var what: String
    }
}

// MARK: - RunningConsumer

/// Runs a consumer and collects what it receives while a test body runs, then shuts it down
/// gracefully and waits for `run()` to return.
final class ConsumerProbe: Sendable {
    let consumer: KafkaConsumer
    private let received = Mutex<[KafkaConsumerMessage]>([])
    /// Called for each record before it is recorded; may commit.
    private let onMessage: @Sendable (KafkaConsumer, KafkaConsumerMessage) async throws -> Void

    init(
        _ consumer: KafkaConsumer,
        onMessage: @escaping @Sendable (KafkaConsumer, KafkaConsumerMessage) async throws -> Void = { _, _ in }
    ) {
        self.consumer = consumer
        self.onMessage = onMessage
    }

    /// The records received so far, in order.
    var messages: [KafkaConsumerMessage] {
        received.withLock { $0 }
    }

    /// Runs the consumer while `body` runs.
    func whileRunning<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let consumer = self.consumer
            group.addTask { try await consumer.run() }
            group.addTask {
                for try await message in consumer.messages {
                    try await self.onMessage(consumer, message)
                    self.received.withLock { $0.append(message) }
                }
            }
            do {
                let result = try await body()
                consumer.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                consumer.triggerGracefulShutdown()
                group.cancelAll()
                throw error
            }
        }
    }
}
