import BatonCore
import BatonKafka
import Foundation

/// Conversions between Kafka records and CloudEvents.
public enum KafkaEvents {
    /// The binary-mode record of an outbox event.
    public static func message(_ event: CloudEvent, topic: String, key: String?) -> KafkaProducerMessage {
        KafkaProducerMessage(
            topic: topic, key: key.map { Array($0.utf8) }, value: event.data,
            headers: CloudEventCodec.headers(for: event).map { KafkaHeader(key: $0.key, value: $0.value) })
    }

    /// Reads an event from a consumed record (binary, structured or bare JSON).
    ///
    /// A bare JSON body without an idempotency key is identified by where and when it was stored,
    /// `kafka:<topic>/<partition>/<offset>@<timestamp ms>`: a redelivery has the same id, and a new
    /// record at an offset a broker reuses after losing its data does not.
    ///
    /// - Parameter defaultType: the type of a bare JSON body.
    static func event(from message: KafkaConsumerMessage, defaultType: String) throws(EventError) -> CloudEvent {
        let stored = message.timestamp.map { String(Int64(($0.timeIntervalSince1970 * 1000).rounded())) } ?? "-"
        return try CloudEventCodec.decode(
            headers: message.headers.map { ($0.key, $0.value) }, value: message.value, defaultType: defaultType,
            fallbackID: "kafka:\(message.topic)/\(message.partition)/\(message.offset)@\(stored)")
    }
}
