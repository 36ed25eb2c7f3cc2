import Logging
import Testing

@testable import BatonKafka

@Suite("Kafka configuration rendering")
struct KafkaConfigurationTests {
    @Test("the producer is idempotent with acks=all and documented defaults")
    func producerDefaults() throws {
        let configuration = KafkaProducerConfiguration(bootstrapServers: ["a:9092", "b:9092"])
        let properties = try configuration.properties()
        #expect(properties["bootstrap.servers"] == "a:9092,b:9092")
        #expect(properties["enable.idempotence"] == "true")
        #expect(properties["acks"] == "all")
        #expect(properties["message.timeout.ms"] == "30000")
        #expect(properties["linger.ms"] == "0")
        #expect(properties["topic.metadata.propagation.max.ms"] == "2000")
        #expect(properties["client.id"] == "baton")
    }

    @Test("the consumer never auto-commits and renders its group settings")
    func consumerDefaults() throws {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["k:9092"], groupID: "g", topics: ["t"])
        configuration.partitionAssignmentStrategies = [.cooperativeSticky]
        configuration.heartbeatInterval = .milliseconds(1500)
        let properties = try configuration.properties()
        #expect(properties["group.id"] == "g")
        #expect(properties["enable.auto.commit"] == "false")
        #expect(properties["auto.offset.reset"] == "earliest")
        #expect(properties["session.timeout.ms"] == "45000")
        #expect(properties["heartbeat.interval.ms"] == "1500")
        #expect(properties["partition.assignment.strategy"] == "cooperative-sticky")
    }

    @Test("extra properties pass through verbatim and secrets are never printed")
    func secretsAreRedacted() throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["k:9092"])
        configuration.extra = [
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": "baton",
            "sasl.password": "hunter2",
            "ssl.key.password": "keypass-42",
            "sasl.oauthbearer.client.secret": "oauth-secret-7",
        ]
        let properties = try configuration.properties()
        #expect(properties["security.protocol"] == "SASL_SSL")
        #expect(properties["sasl.password"] == "hunter2")

        let printed = "\(configuration)"
        #expect(printed.contains("security.protocol=SASL_SSL"))
        #expect(printed.contains("sasl.username=baton"))
        #expect(printed.contains("sasl.password=<redacted>"))
        for secret in ["hunter2", "keypass-42", "oauth-secret-7"] {
            #expect(!printed.contains(secret))
        }

        var consumer = KafkaConsumerConfiguration(bootstrapServers: ["k:9092"], groupID: "g", topics: ["t"])
        consumer.extra["sasl.password"] = "hunter2"
        #expect(!"\(consumer)".contains("hunter2"))
        var admin = KafkaAdminConfiguration(bootstrapServers: ["k:9092"])
        admin.extra["sasl.password"] = "hunter2"
        #expect(!"\(admin)".contains("hunter2"))
    }

    @Test("options Baton manages cannot be overridden through extra")
    func managedKeysAreRefused() {
        var producer = KafkaProducerConfiguration(bootstrapServers: ["k:9092"])
        producer.extra["enable.idempotence"] = "false"
        #expect(throws: KafkaError.self) { try producer.properties() }
        do {
            _ = try producer.properties()
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.reason.contains("enable.idempotence"))
        }

        var consumer = KafkaConsumerConfiguration(bootstrapServers: ["k:9092"], groupID: "g", topics: ["t"])
        consumer.extra["enable.auto.commit"] = "true"
        #expect(throws: KafkaError.self) { try consumer.properties() }
    }

    @Test("missing required values are refused with a readable reason")
    func requiredValues() {
        #expect(throws: KafkaError.self) { try KafkaProducerConfiguration(bootstrapServers: []).properties() }
        #expect(throws: KafkaError.self) {
            try KafkaConsumerConfiguration(bootstrapServers: ["k:9092"], groupID: "", topics: ["t"]).properties()
        }
        #expect(throws: KafkaError.self) {
            try KafkaConsumerConfiguration(bootstrapServers: ["k:9092"], groupID: "g", topics: []).properties()
        }
        var timing = KafkaConsumerConfiguration(bootstrapServers: ["k:9092"], groupID: "g", topics: ["t"])
        timing.sessionTimeout = .seconds(60)
        timing.maxPollInterval = .seconds(30)
        #expect(throws: KafkaError.self) { try timing.properties() }
    }

    @Test("a property librdkafka rejects names its key but never a secret's value")
    func rejectedPropertyDoesNotLeakValue() {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.extra["my.secret.setting"] = "hunter2"
        do {
            _ = try KafkaProducer(configuration: configuration, logger: Logger(label: "test"))
            Issue.record("an unknown property was accepted")
        } catch let error as KafkaError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.reason.contains("my.secret.setting"))
            #expect(!"\(error)".contains("hunter2"))
        } catch {
            Issue.record("unexpected error \(error)")
        }

        var invalid = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        invalid.extra["socket.timeout.ms"] = "soon"
        #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: invalid, logger: Logger(label: "test"))
        }
    }

    @Test("durations render as whole milliseconds")
    func durations() {
        #expect(KafkaConfigurationProperties.milliseconds(.seconds(30)) == 30_000)
        #expect(KafkaConfigurationProperties.milliseconds(.milliseconds(1500)) == 1500)
        #expect(KafkaConfigurationProperties.milliseconds(.microseconds(2500)) == 2)
        #expect(KafkaConfigurationProperties.milliseconds(.seconds(-1)) == 0)
        #expect(KafkaConfigurationProperties.milliseconds(.seconds(Int64.max)) == Int32.max)
    }

    @Test("errors say their code, reason and librdkafka name")
    func errorDescription() {
        let error = KafkaError.messageTimedOut("No broker answered.", underlyingName: "_MSG_TIMED_OUT")
        #expect(error.isRetriable)
        #expect("\(error)" == "KafkaError(messageTimedOut): No broker answered. [librdkafka: _MSG_TIMED_OUT]")
        #expect(error.file.hasSuffix("KafkaConfigurationTests.swift"))
    }
}
