import BatonKafka
import Testing

@Suite("Kafka produce and consume (real broker)", .timeLimit(.minutes(3)))
struct KafkaRoundTripTests {
    @Test("key, value and headers (nil, empty, binary, repeated) round-trip")
    func roundTrip() async throws {
        let topic = KafkaTestEnvironment.uniqueName("roundtrip")
        try await KafkaTestEnvironment.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])

        let headers = [
            KafkaHeader(key: "ce_type", value: "stage.ready"),
            KafkaHeader(key: "no-value", value: nil),
            KafkaHeader(key: "empty", value: []),
            KafkaHeader(key: "binary", value: [0x00, 0xFF, 0x80, 0x00, 0x7F]),
            KafkaHeader(key: "ce_type", value: "repeated"),
        ]
        let value: [UInt8] = [0x00, 0x01, 0xFE, 0xFF] + Array("{\"run\":\"42\"}".utf8)
        let producer = try KafkaProducer(
            configuration: try KafkaTestEnvironment.producerConfiguration(),
            logger: KafkaTestEnvironment.logger("producer")
        )
        let report = try await producer.send(
            KafkaProducerMessage(topic: topic, key: "run-42", value: value, headers: headers)
        )
        let keyless = try await producer.send(KafkaProducerMessage(topic: topic, key: nil, value: [1]))
        _ = try await producer.send(KafkaProducerMessage(topic: topic, key: [], value: []))
        await producer.shutdown()
        #expect(report.topic == topic)
        #expect(report.partition == 0)
        #expect(keyless.offset == report.offset + 1)

        let consumer = try KafkaConsumer(
            configuration: try KafkaTestEnvironment.consumerConfiguration(
                group: KafkaTestEnvironment.uniqueName("roundtrip"),
                topics: [topic]
            ),
            logger: KafkaTestEnvironment.logger("consumer")
        )
        let probe = ConsumerProbe(consumer)
        try await probe.whileRunning {
            try await KafkaTestEnvironment.waitUntil("three records", timeout: .seconds(30)) {
                probe.messages.count >= 3
            }
        }

        let received = try #require(probe.messages.first)
        #expect(received.topic == topic)
        #expect(received.partition == report.partition)
        #expect(received.offset == report.offset)
        #expect(received.keyString == "run-42")
        #expect(received.value == value)
        #expect(received.headers == headers)
        #expect(received.header("no-value")?.value == nil)
        #expect(received.header("empty")?.value == [])
        #expect(received.timestamp != nil)

        let second = try #require(probe.messages.dropFirst().first)
        #expect(second.key == nil)
        #expect(second.headers.isEmpty)
        #expect(second.value == [1])

        let empty = try #require(probe.messages.dropFirst(2).first)
        #expect(empty.key == [])
        #expect(empty.value == [])
    }
}
