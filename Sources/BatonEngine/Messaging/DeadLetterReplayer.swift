import BatonCore
import BatonKafka
import BatonStore

/// Replays dead letters with a Kafka producer: for `baton dlq replay` and the API's
/// `POST /v1/dead-letters/{id}/replay`.
///
/// A request with a `ce_id` (or an idempotency key) is deduplicated by the coordinator's inbox,
/// and a bare request takes its id from the `baton.replayed_from` header, so replaying one dead
/// letter twice makes at most one run.
public struct DeadLetterReplayer: DeadLetterReplaying {
    let messaging: MessagingStore
    let producer: KafkaProducer

    /// A replayer writing with `producer` and recording in `messaging`.
    public init(messaging: MessagingStore, producer: KafkaProducer) {
        self.messaging = messaging
        self.producer = producer
    }

    public func replay(_ id: Int64, actor: String) async throws(DeadLetterReplayError) -> String {
        let record: DeadLetterRecord?
        do {
            record = try await messaging.deadLetterRecord(id)
        } catch {
            throw DeadLetterReplayError(.unavailable, "the database did not answer: \(error)", isRetriable: true)
        }
        guard let record else { throw DeadLetterReplayError(.notFound, "no dead letter \(id)", isRetriable: false) }
        guard record.isComplete else {
            throw DeadLetterReplayError(
                .notReplayable,
                "dead letter \(id) was stored truncated (the record was over \(DeadLetter.maxStoredPayload) bytes); "
                    + "it cannot be replayed", isRetriable: false)
        }
        var headers = record.headers.filter { !$0.key.hasPrefix("baton_dlq_") }.map {
            KafkaHeader(key: $0.key, value: $0.value)
        }
        headers.append(KafkaHeader(key: CloudEventCodec.replayedFromHeader, value: "dead-letter/\(record.id)"))
        let destination: String
        do {
            let report = try await producer.send(
                KafkaProducerMessage(topic: record.topic, key: record.key, value: record.payload, headers: headers))
            destination = "\(record.topic)[\(report.partition)]@\(report.offset)"
        } catch {
            throw DeadLetterReplayError(.unavailable, "the broker did not take the record: \(error)", isRetriable: true)
        }
        do {
            try await messaging.markDeadLetterReplayed(record.id, actor: actor, detail: "to \(destination)")
        } catch {
            throw DeadLetterReplayError(
                .unavailable, "replayed to \(destination), but not recorded: \(error)", isRetriable: true)
        }
        return destination
    }
}
