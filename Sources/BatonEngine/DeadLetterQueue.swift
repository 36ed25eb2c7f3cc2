import BatonKafka
import BatonStore
import Logging

/// Sends a message no consumer can handle to the dead-letter topic and records it in PostgreSQL.
struct DeadLetterQueue: Sendable {
    let store: BatonStore
    let producer: KafkaProducer
    let topic: String
    let logger: Logger

    /// Records and publishes the dead letter; the caller may commit the message's offset afterwards.
    func send(_ message: KafkaConsumerMessage, consumer: String, error: String, attempts: Int) async throws {
        var headers = message.headers
        headers += [
            KafkaHeader(key: "baton_dlq_consumer", value: consumer),
            KafkaHeader(key: "baton_dlq_topic", value: message.topic),
            KafkaHeader(key: "baton_dlq_partition", value: String(message.partition)),
            KafkaHeader(key: "baton_dlq_offset", value: String(message.offset)),
            KafkaHeader(key: "baton_dlq_error", value: String(error.prefix(4096))),
            KafkaHeader(key: "baton_dlq_attempts", value: String(attempts)),
        ]
        let letter = DeadLetter(
            consumer: consumer, topic: message.topic, partition: message.partition, offset: message.offset,
            key: message.key, payload: message.value,
            headers: Dictionary(
                message.headers.compactMap { header in header.stringValue.map { (header.key, $0) } },
                uniquingKeysWith: { _, last in last }),
            error: error, attempts: attempts)
        try await store.recordDeadLetter(letter)
        _ = try await producer.send(
            KafkaProducerMessage(topic: topic, key: message.key, value: message.value, headers: headers))
        EngineMetrics.deadLettered(consumer: consumer)
        logger.error(
            "message dead-lettered",
            metadata: [
                LogKeys.topic: "\(message.topic)", LogKeys.partition: "\(message.partition)",
                LogKeys.offset: "\(message.offset)", LogKeys.error: "\(error)", "attempts": "\(attempts)",
            ])
    }
}
