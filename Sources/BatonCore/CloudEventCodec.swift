import Foundation

/// Maps CloudEvents to and from Kafka records (headers plus value).
///
/// Egress is always binary mode (`ce_*` headers, JSON value). Ingress is liberal: binary
/// mode, structured mode (`content-type: application/cloudevents+json`) and a bare JSON
/// body, whose type comes from the topic and whose id from the caller.
public enum CloudEventCodec {
    /// A Kafka header, independent of the Kafka client.
    public typealias Header = (key: String, value: [UInt8]?)

    /// The largest event value accepted on ingress, in bytes.
    public static let maxEventBytes = 1024 * 1024
    /// The longest `id`, `source` and `type` accepted on ingress, in bytes: they are keys of the
    /// inbox and labels of logs, and no legitimate producer needs more.
    public static let maxIDBytes = 256
    /// The longest `source` accepted on ingress, in bytes.
    public static let maxSourceBytes = 256
    /// The longest `type` accepted on ingress, in bytes.
    public static let maxTypeBytes = 128
    /// The most headers and header bytes accepted on ingress.
    public static let maxHeaders = 64
    /// The most bytes of all headers together accepted on ingress.
    public static let maxHeaderBytes = 64 * 1024
    /// The header `baton dlq replay` adds to a record it produces again: its value names the dead
    /// letter, and a bare JSON body without an idempotency key takes `replay:<value>` as its id, so
    /// replaying one dead letter twice makes one run.
    public static let replayedFromHeader = "baton.replayed_from"

    /// The headers of a binary-mode record.
    public static func headers(for event: CloudEvent) -> [Header] {
        var headers: [Header] = [
            ("ce_specversion", Array("1.0".utf8)),
            ("ce_id", Array(event.id.utf8)),
            ("ce_source", Array(event.source.utf8)),
            ("ce_type", Array(event.type.utf8)),
            ("ce_time", Array(timestamp(event.time).utf8)),
            ("content-type", Array("application/json".utf8)),
        ]
        if let subject = event.subject { headers.append(("ce_subject", Array(subject.utf8))) }
        if let traceparent = event.traceparent { headers.append(("traceparent", Array(traceparent.utf8))) }
        return headers
    }

    /// Reads an event from a record.
    ///
    /// - Parameters:
    ///   - defaultType: the type of a bare JSON body (from the topic it came on).
    ///   - fallbackID: the id of a bare JSON body without an idempotency key, e.g. `topic/partition/offset`.
    /// - Throws: `EventError` saying what is wrong.
    public static func decode(
        headers: [Header], value: [UInt8], defaultType: String, fallbackID: String
    ) throws(EventError) -> CloudEvent {
        guard value.count <= maxEventBytes else {
            throw EventError("event is \(value.count) bytes; the limit is \(maxEventBytes)")
        }
        guard headers.count <= maxHeaders,
            headers.reduce(0, { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) }) <= maxHeaderBytes
        else {
            throw EventError("record has more than \(maxHeaders) headers or \(maxHeaderBytes) bytes of headers")
        }
        func header(_ key: String) throws(EventError) -> String? {
            guard let bytes = headers.last(where: { $0.key.lowercased() == key })?.value else { return nil }
            guard let text = String(validating: bytes, as: UTF8.self), !text.utf8.contains(0) else {
                throw EventError("header \(key) is not valid UTF-8 text (or holds a NUL byte)")
            }
            return text
        }
        let event: CloudEvent
        if let type = try header("ce_type") {
            guard let id = try header("ce_id"), !id.isEmpty else { throw EventError("binary-mode event has no ce_id") }
            guard let specversion = try header("ce_specversion"), specversion == "1.0" else {
                throw EventError("unsupported ce_specversion (need 1.0)")
            }
            try requireJSONObject(value)
            event = CloudEvent(
                id: id, source: try header("ce_source") ?? "unknown", type: type, subject: try header("ce_subject"),
                time: try header("ce_time").flatMap(parseTimestamp) ?? Date(), traceparent: try header("traceparent"),
                data: value)
        } else {
            let object = try requireJSONObject(value)
            if try header("content-type")?.hasPrefix("application/cloudevents+json") == true
                || object["specversion"] != nil
            {
                event = try structured(object)
            } else {
                let key = (object["idempotency_key"] as? String).map { "idem:\($0)" }
                let replayed = try header(replayedFromHeader).map { "replay:\($0)" }
                event = CloudEvent(
                    id: key ?? replayed ?? fallbackID, source: "bare-json", type: defaultType,
                    traceparent: try header("traceparent"), data: value)
            }
        }
        try checkEnvelope(event)
        return event
    }

    /// Refuses an envelope whose identity fields are too long or not printable.
    private static func checkEnvelope(_ event: CloudEvent) throws(EventError) {
        for (name, value, limit) in [
            ("id", event.id, maxIDBytes), ("source", event.source, maxSourceBytes), ("type", event.type, maxTypeBytes),
        ] {
            guard value.utf8.count <= limit else {
                throw EventError("event \(name) is \(value.utf8.count) bytes; the limit is \(limit)")
            }
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw EventError("event \(name) holds a control character")
            }
        }
    }

    private static func structured(_ object: [String: Any]) throws(EventError) -> CloudEvent {
        guard object["specversion"] as? String == "1.0" else {
            throw EventError("structured event needs specversion \"1.0\"")
        }
        guard let id = object["id"] as? String, !id.isEmpty, let type = object["type"] as? String else {
            throw EventError("structured event needs string 'id' and 'type'")
        }
        let data: [UInt8]
        if let dataObject = object["data"], JSONSerialization.isValidJSONObject(dataObject),
            let encoded = try? JSONSerialization.data(withJSONObject: dataObject)
        {
            data = Array(encoded)
        } else {
            throw EventError("structured event needs a JSON object in 'data'")
        }
        return CloudEvent(
            id: id, source: object["source"] as? String ?? "unknown", type: type, subject: object["subject"] as? String,
            time: (object["time"] as? String).flatMap(parseTimestamp) ?? Date(),
            traceparent: object["traceparent"] as? String, data: data)
    }

    @discardableResult
    private static func requireJSONObject(_ value: [UInt8]) throws(EventError) -> [String: Any] {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(value)) else {
            throw EventError("event body is not JSON")
        }
        guard let object = parsed as? [String: Any] else { throw EventError("event body must be a JSON object") }
        return object
    }

    private static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    private static func parseTimestamp(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
