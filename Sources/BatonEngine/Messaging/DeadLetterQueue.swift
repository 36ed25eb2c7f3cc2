import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging

/// Sends a message no consumer can handle to PostgreSQL's `dead_letters` and the dead-letter topic.
///
/// The path cannot fail on the message's content: the letter is bounded and sanitised before it
/// is stored (see ``DeadLetter``), and the topic copy is cut to ``maxTopicPayload`` bytes with the
/// original's size and SHA-256 in its headers. The PostgreSQL row is the record of truth: when the
/// topic refuses the copy (too large for the broker, topic missing, broker away) the row is
/// enough, and the offset may be committed.
struct DeadLetterQueue: Sendable {
    /// The most payload bytes of the topic copy; with ``maxTopicHeaderBytes`` of headers it stays
    /// under the broker's default `message.max.bytes` (1,000,000).
    static let maxTopicPayload = 512 * 1024
    /// The most bytes of the original headers copied to the topic; more are left out (they are
    /// in PostgreSQL).
    static let maxTopicHeaderBytes = 64 * 1024

    let messaging: MessagingStore
    let producer: KafkaProducer
    let topic: String
    let logger: Logger

    /// Records the dead letter, waiting out a database that is away; then publishes the copy,
    /// once. The caller may commit the message's offset when this returns `true`.
    ///
    /// - Returns: `false` only when the task was cancelled before the letter was stored.
    func send(_ message: KafkaConsumerMessage, consumer: String, error: String, attempts: Int) async -> Bool {
        let letter = DeadLetter(
            consumer: consumer, topic: message.topic, partition: message.partition, offset: message.offset,
            recordTime: message.timestamp, key: message.key, payload: message.value,
            headers: message.headers.map { ($0.key, $0.value) }, error: error, attempts: attempts)
        guard await record(letter) else { return false }
        EngineMetrics.deadLettered(consumer: consumer)
        logger.error(
            "message dead-lettered",
            metadata: [
                LogKeys.topic: "\(message.topic)", LogKeys.partition: "\(message.partition)",
                LogKeys.offset: "\(message.offset)", LogKeys.error: "\(letter.error.prefix(1000))",
                LogKeys.attempts: "\(attempts)", LogKeys.payloadBytes: "\(letter.payloadSize)",
            ])
        do {
            _ = try await producer.send(topicCopy(of: message, letter: letter))
        } catch {
            logger.warning(
                "dead letter stored in PostgreSQL only; the dead-letter topic refused its copy",
                metadata: [LogKeys.topic: "\(topic)", LogKeys.error: "\(error)"])
        }
        return true
    }

    /// Stores the letter; a database that is away is waited out, and a letter the database refuses
    /// (it cannot, once sanitised, but a bug must not lose a message) is stored in its minimal form.
    private func record(_ letter: DeadLetter) async -> Bool {
        var letter = letter
        var backoff = Backoff()
        while !Task.isCancelled {
            do {
                try await messaging.recordDeadLetter(letter)
                return true
            } catch {
                if HandlingFailure.classify(error) != .transient, letter != letter.minimal {
                    logger.error(
                        "dead letter refused by the database; storing it without key and headers",
                        metadata: [LogKeys.error: "\(describeError(error))"])
                    letter = letter.minimal
                    continue
                }
                logger.warning(
                    "dead-lettering failed; retrying",
                    metadata: [
                        LogKeys.error: "\(describeError(error))",
                        LogKeys.retryInMilliseconds: "\(backoff.next.milliseconds)",
                    ])
                await backoff.wait()
            }
        }
        return false
    }

    private func topicCopy(of message: KafkaConsumerMessage, letter: DeadLetter) -> KafkaProducerMessage {
        var headers: [KafkaHeader] = []
        var headerBytes = 0
        for header in message.headers {
            headerBytes += header.key.utf8.count + (header.value?.count ?? 0)
            if headerBytes > Self.maxTopicHeaderBytes { break }
            headers.append(header)
        }
        headers += [
            KafkaHeader(key: "baton_dlq_consumer", value: letter.consumer),
            KafkaHeader(key: "baton_dlq_topic", value: letter.topic),
            KafkaHeader(key: "baton_dlq_partition", value: String(message.partition)),
            KafkaHeader(key: "baton_dlq_offset", value: String(message.offset)),
            KafkaHeader(key: "baton_dlq_error", value: letter.error),
            KafkaHeader(key: "baton_dlq_attempts", value: String(letter.attempts)),
            KafkaHeader(key: "baton_dlq_payload_size", value: String(letter.payloadSize)),
            KafkaHeader(key: "baton_dlq_payload_sha256", value: letter.payloadSHA256),
        ]
        if message.value.count > Self.maxTopicPayload {
            headers.append(KafkaHeader(key: "baton_dlq_truncated", value: "true"))
        }
        return KafkaProducerMessage(
            topic: topic, key: letter.key.map { Array($0.prefix(1024)) },
            value: Array(message.value.prefix(Self.maxTopicPayload)), headers: headers)
    }
}
