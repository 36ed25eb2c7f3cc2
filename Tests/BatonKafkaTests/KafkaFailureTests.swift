import BatonKafka
import Logging
import Testing

@Suite("Kafka topic creation and failures (real broker)", .timeLimit(.minutes(3)))
struct KafkaFailureTests {
    @Test("creating a topic twice succeeds")
    func topicCreationIsIdempotent() async throws {
        let topic = KafkaTopicSpec(name: KafkaTestEnvironment.uniqueName("idempotent"), partitions: 2)
        try await KafkaTestEnvironment.createTopics([topic])
        try await KafkaTestEnvironment.createTopics([topic])
    }

    @Test("send to an unreachable broker fails with a typed error within the message timeout")
    func unreachableBroker() async throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.messageTimeout = .seconds(2)
        var logger = KafkaTestEnvironment.logger("unreachable")
        logger.logLevel = .critical  // connection refused, again and again
        let producer = try KafkaProducer(configuration: configuration, logger: logger)

        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try await producer.send(KafkaProducerMessage(topic: "nowhere", key: "k", value: [1, 2, 3]))
            Issue.record("send to an unreachable broker succeeded")
        } catch let error as KafkaError {
            #expect(error.code == .messageTimedOut)
            #expect(error.isRetriable)
            #expect(error.underlyingName == "_MSG_TIMED_OUT")
        }
        let elapsed = clock.now - start
        #expect(elapsed < .seconds(8), "took \(elapsed)")
        await producer.shutdown(timeout: .milliseconds(100))

        await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaProducerMessage(topic: "nowhere", key: "k", value: [1]))
        }
    }

    @Test("a record for a topic the broker does not know fails fast, not after librdkafka's 30 s")
    func missingTopicFailsFast() async throws {
        // The outbox relay sends a batch's lanes together: one record waiting 30 s for a topic
        // that will never come (a pool nobody provisioned) held every other event back.
        var configuration = KafkaProducerConfiguration(bootstrapServers: try KafkaTestEnvironment.brokers())
        configuration.extra["allow.auto.create.topics"] = "false"
        let producer = try KafkaProducer(configuration: configuration, logger: KafkaTestEnvironment.logger("missing"))
        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try await producer.send(
                KafkaProducerMessage(topic: KafkaTestEnvironment.uniqueName("missing"), key: "k", value: [1]))
            Issue.record("a record for a missing topic was delivered")
        } catch let error as KafkaError {
            #expect(["UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC"].contains(error.underlyingName ?? ""), "\(error)")
        }
        #expect(clock.now - start < .seconds(8), "took \(clock.now - start)")
        await producer.shutdown(timeout: .milliseconds(100))
    }

    @Test("topic creation against an unreachable broker times out with a typed error")
    func unreachableAdmin() async throws {
        var logger = KafkaTestEnvironment.logger("unreachable-admin")
        logger.logLevel = .critical
        let admin = try KafkaAdmin(
            configuration: KafkaAdminConfiguration(bootstrapServers: ["127.0.0.1:1"]), logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await admin.createTopics([KafkaTopicSpec(name: "never")], timeout: .seconds(2))
            Issue.record("topic creation against an unreachable broker succeeded")
        } catch let error as KafkaError {
            #expect(error.isRetriable)
            #expect([KafkaError.Code.timedOut, .topicCreationFailed].contains(error.code))
        }
        #expect(clock.now - start < .seconds(10))
    }
}
