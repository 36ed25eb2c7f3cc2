import BatonKafka
import Testing

/// A group whose committed offset lies past the end of its partition: the broker lost records
/// the group had read (a wiped or truncated log; in the chaos suite a worker that joined just
/// before a broker wipe held a partition whose lag only grew). Kafka answers a fetch there with
/// `OFFSET_OUT_OF_RANGE` and librdkafka starts again per `auto.offset.reset`; Tansu answers with
/// no records and no error, so the consumer checks its positions against the partitions' ends.
@Suite("Kafka consumer past the end of a partition (real broker)", .timeLimit(.minutes(2)))
struct KafkaLostRecordsTests {
    @Test("A consumer whose group committed past the partition's end reads the partition again from the earliest")
    func committedPastTheEnd() async throws {
        let topic = KafkaTestEnvironment.uniqueName("lost-records")
        try await KafkaTestEnvironment.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(
            configuration: try KafkaTestEnvironment.producerConfiguration(),
            logger: KafkaTestEnvironment.logger("producer"))
        for index in 0..<3 {
            _ = try await producer.send(KafkaProducerMessage(topic: topic, key: "k", value: Array("v\(index)".utf8)))
        }
        await producer.shutdown()
        let group = KafkaTestEnvironment.uniqueName("lost-records")
        // The group read up to offset 100 of a log that now ends at 3.
        let first = ConsumerProbe(
            try KafkaConsumer(
                configuration: try KafkaTestEnvironment.consumerConfiguration(group: group, topics: [topic]),
                logger: KafkaTestEnvironment.logger("first")))
        try await first.whileRunning {
            try await KafkaTestEnvironment.waitUntil("the three records", timeout: .seconds(30)) {
                first.messages.count == 3
            }
            try await first.consumer.commit(
                KafkaConsumerMessage(topic: topic, partition: 0, offset: 99, key: nil, value: []))
        }
        let second = ConsumerProbe(
            try KafkaConsumer(
                configuration: try KafkaTestEnvironment.consumerConfiguration(group: group, topics: [topic]),
                logger: KafkaTestEnvironment.logger("second")))
        try await second.whileRunning {
            try await KafkaTestEnvironment.waitUntil("the three records again", timeout: .seconds(30)) {
                second.messages.count == 3
            }
        }
        #expect(second.messages.map { String(decoding: $0.value, as: UTF8.self) } == ["v0", "v1", "v2"])
    }
}
