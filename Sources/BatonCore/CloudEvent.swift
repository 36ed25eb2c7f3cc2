import Foundation

/// A CloudEvents 1.0 event as Baton carries it: attributes plus a JSON `data` body.
public struct CloudEvent: Sendable, Hashable {
    /// `ce_id`: unique per event; consumers dedupe on it.
    public var id: String
    /// `ce_source`, e.g. `baton/coordinator`.
    public var source: String
    /// `ce_type`, the plain event name.
    public var type: String
    /// `ce_subject`, e.g. `run/<id>/stage/<name>`.
    public var subject: String?
    /// `ce_time`.
    public var time: Date
    /// W3C `traceparent`, when the producer had one.
    public var traceparent: String?
    /// The JSON body.
    public var data: [UInt8]

    /// An event with the given attributes and raw JSON body; the id defaults to a new lowercase UUID.
    public init(
        id: String = UUID().uuidString.lowercased(), source: String, type: String, subject: String? = nil,
        time: Date = Date(), traceparent: String? = nil, data: [UInt8]
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.subject = subject
        self.time = time
        self.traceparent = traceparent
        self.data = data
    }

    /// Makes an event whose data is the JSON encoding of `payload`.
    public init(
        id: String = UUID().uuidString.lowercased(), source: String, type: EventType, subject: String? = nil,
        payload: some Encodable
    ) throws {
        self.init(id: id, source: source, type: type.rawValue, subject: subject, data: try Self.encode(payload))
    }

    /// Decodes `data` as `T`.
    ///
    /// - Throws: `EventError` naming the event type and the JSON problem.
    public func decode<T: Decodable>(_ type: T.Type) throws(EventError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(data))
        } catch {
            throw EventError("data of '\(self.type)' does not match its schema: \(describeDecodingError(error))")
        }
    }

    /// The JSON encoding used for every payload (sorted keys, so bytes are stable).
    public static func encode(_ payload: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(payload))
    }
}

/// An event that cannot be read: bad encoding, missing attributes, unknown type.
public struct EventError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the event, in a sentence.
    public var message: String
    /// An error with the given message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
