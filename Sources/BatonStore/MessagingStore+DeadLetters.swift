import BatonCore
import Crypto
import Foundation
import PostgresNIO

/// A message no consumer could handle, with its origin; every field is safe to store.
///
/// Build it with ``init(consumer:topic:partition:offset:recordTime:key:payload:headers:error:attempts:)``,
/// which bounds and sanitises what came from the wire, so that recording it cannot fail on its
/// content (a NUL byte, invalid UTF-8, a payload of any size).
public struct DeadLetter: Sendable, Hashable {
    /// The most payload bytes stored: every record a consumer accepts fits whole, so a dead letter
    /// of a valid request can be replayed; larger records keep their first bytes.
    public static let maxStoredPayload = CloudEventCodec.maxEventBytes
    /// The most key bytes stored.
    public static let maxStoredKey = 16 * 1024
    /// The most headers kept, and the most bytes of each header value kept.
    public static let maxHeaders = 64
    /// The most bytes of each header value kept.
    public static let maxHeaderValue = 4096
    /// The most bytes of the error text kept.
    public static let maxError = 4096

    /// The name of the consumer that gave up on the record.
    public var consumer: String
    /// The Kafka topic the record came from.
    public var topic: String
    /// The record's Kafka partition.
    public var partition: Int32
    /// The record's offset in its partition.
    public var offset: Int64
    /// The record's timestamp; with the offset it identifies a record across broker resets.
    public var recordTime: Date?
    /// The key, at most ``maxStoredKey`` bytes.
    public var key: [UInt8]?
    /// The payload, at most ``maxStoredPayload`` bytes.
    public var payload: [UInt8]
    /// The original payload's size and SHA-256 (hex), whatever was kept of it.
    public var payloadSize: Int
    /// SHA-256 (hex) of the original payload, whatever was kept of it.
    public var payloadSHA256: String
    /// The headers as safe text (a repeated name keeps its last value).
    public var headers: [String: String]
    /// The `ce_id` header, when the record had one (how `baton submit --wait` finds it).
    public var eventID: String?
    /// Why it could not be handled.
    public var error: String
    /// How many times handling was tried.
    public var attempts: Int

    /// A dead letter of a consumed record, bounded and sanitised.
    public init(
        consumer: String, topic: String, partition: Int32, offset: Int64, recordTime: Date?, key: [UInt8]?,
        payload: [UInt8], headers: [(key: String, value: [UInt8]?)], error: String, attempts: Int
    ) {
        self.consumer = consumer
        self.topic = SafeText.make(topic, limit: 255)
        self.partition = partition
        self.offset = offset
        self.recordTime = recordTime
        self.key = key.map { Array($0.prefix(Self.maxStoredKey)) }
        self.payload = Array(payload.prefix(Self.maxStoredPayload))
        self.payloadSize = payload.count
        self.payloadSHA256 = SHA256.hash(data: payload).lowercaseHex
        var safeHeaders: [String: String] = [:]
        for header in headers.prefix(Self.maxHeaders) {
            safeHeaders[SafeText.make(header.key, limit: 255)] = header.value.map {
                SafeText.make(bytes: $0, limit: Self.maxHeaderValue)
            }
        }
        self.headers = safeHeaders
        self.eventID = headers.last { $0.key.lowercased() == "ce_id" }?.value.map {
            SafeText.make(bytes: $0, limit: 256)
        }
        self.error = SafeText.make(error, limit: Self.maxError)
        self.attempts = attempts
    }

    /// The same letter with only what cannot fail to store: no key, headers or event id.
    public var minimal: DeadLetter {
        var letter = self
        letter.key = nil
        letter.headers = [:]
        letter.eventID = nil
        return letter
    }
}

/// A stored dead letter, as `baton dlq list|show` prints it.
public struct DeadLetterView: Sendable, Hashable, Codable {
    /// The dead letter's id, as `baton dlq show|replay|discard` take it.
    public var id: Int64
    /// The name of the consumer that gave up on the record.
    public var consumer: String
    /// The Kafka topic the record came from.
    public var topic: String
    /// The record's Kafka partition.
    public var partition: Int
    /// The record's offset in its partition.
    public var offset: Int64
    /// The record's `ce_id` header; nil when it had none.
    public var eventID: String?
    /// Why the record could not be handled.
    public var error: String
    /// How many times handling was tried.
    public var attempts: Int
    /// The original payload's size in bytes, whatever was kept of it.
    public var payloadSize: Int
    /// SHA-256 (hex) of the original payload.
    public var payloadSHA256: String
    /// When the dead letter was recorded.
    public var createdAt: Date
    /// How many times the record was replayed.
    public var replays: Int
    /// When the record was last replayed; nil if never.
    public var replayedAt: Date?
    /// When the dead letter was discarded; nil while it is open.
    public var discardedAt: Date?
    /// Present in `show` only.
    public var headers: [String: String]?
    /// The stored payload as text (safe, bounded), present in `show` only.
    public var payloadPreview: String?

    enum CodingKeys: String, CodingKey {
        case id, consumer, topic, partition, offset, error, attempts, replays, headers
        case eventID = "event_id"
        case payloadSize = "payload_size"
        case payloadSHA256 = "payload_sha256"
        case createdAt = "created_at"
        case replayedAt = "replayed_at"
        case discardedAt = "discarded_at"
        case payloadPreview = "payload_preview"
    }
}

/// What `replay` needs of a dead letter: the original record as stored.
public struct DeadLetterRecord: Sendable, Hashable {
    /// The dead letter's id.
    public var id: Int64
    /// The Kafka topic the record came from, and goes back to on replay.
    public var topic: String
    /// The record's key as stored; nil when it had none.
    public var key: [UInt8]?
    /// The payload as stored, at most ``DeadLetter/maxStoredPayload`` bytes.
    public var payload: [UInt8]
    /// Whether the stored payload is the whole original (only then can it be replayed).
    public var isComplete: Bool
    /// The headers as stored, as safe text.
    public var headers: [String: String]
}

extension MessagingStore {
    /// Records a dead letter; recording the same record again (same origin, time and content) keeps
    /// the first row.
    public func recordDeadLetter(_ letter: DeadLetter) async throws {
        let headers = String(decoding: try JSONEncoder().encode(letter.headers), as: UTF8.self)
        try await client.statement(
            """
            INSERT INTO dead_letters (consumer, topic, partition, "offset", record_time, key, payload, payload_size,
                                      payload_sha256, headers, event_id, error, attempts)
            VALUES (\(letter.consumer), \(letter.topic), \(Int(letter.partition)), \(letter.offset),
                    \(letter.recordTime), \(letter.key.map { ByteBuffer(bytes: $0) }),
                    \(ByteBuffer(bytes: letter.payload)), \(letter.payloadSize), \(letter.payloadSHA256),
                    \(headers)::jsonb, \(letter.eventID), \(letter.error), \(letter.attempts))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// The dead letter recorded for the request event `eventID`, if any: its error.
    public func deadLetterError(eventID: String) async throws -> String? {
        let rows = try await client.statement(
            "SELECT error FROM dead_letters WHERE event_id = \(eventID) ORDER BY id DESC LIMIT 1", logger: logger)
        for try await error in rows.decode(String.self) { return error }
        return nil
    }

    /// Dead letters, newest first; discarded ones only with `includeDiscarded`.
    public func deadLetters(limit: Int, includeDiscarded: Bool) async throws -> [DeadLetterView] {
        let rows = try await client.statement(
            """
            SELECT id, consumer, topic, partition, "offset", event_id, error, attempts, payload_size, payload_sha256,
                   created_at, replays, replayed_at, discarded_at
            FROM dead_letters WHERE \(includeDiscarded) OR discarded_at IS NULL
            ORDER BY id DESC LIMIT \(limit)
            """, logger: logger)
        var views: [DeadLetterView] = []
        for try await row in rows.decode(
            (Int64, String, String, Int, Int64, String?, String, Int, Int, String, Date, Int, Date?, Date?).self)
        {
            views.append(
                DeadLetterView(
                    id: row.0, consumer: row.1, topic: row.2, partition: row.3, offset: row.4, eventID: row.5,
                    error: row.6, attempts: row.7, payloadSize: row.8, payloadSHA256: row.9, createdAt: row.10,
                    replays: row.11, replayedAt: row.12, discardedAt: row.13))
        }
        return views
    }

    /// One dead letter with its headers and a preview of its payload; `nil` if there is none.
    public func deadLetter(_ id: Int64) async throws -> DeadLetterView? {
        let rows = try await client.statement(
            """
            SELECT consumer, topic, partition, "offset", event_id, error, attempts, payload_size, payload_sha256,
                   created_at, replays, replayed_at, discarded_at, headers::text, substring(payload FROM 1 FOR 4096)
            FROM dead_letters WHERE id = \(id)
            """, logger: logger)
        for try await row in rows.decode(
            (
                String, String, Int, Int64, String?, String, Int, Int, String, Date, Int, Date?, Date?, String,
                ByteBuffer
            ).self)
        {
            return DeadLetterView(
                id: id, consumer: row.0, topic: row.1, partition: row.2, offset: row.3, eventID: row.4, error: row.5,
                attempts: row.6, payloadSize: row.7, payloadSHA256: row.8, createdAt: row.9, replays: row.10,
                replayedAt: row.11, discardedAt: row.12,
                headers: try JSONDecoder().decode([String: String].self, from: Data(row.13.utf8)),
                payloadPreview: SafeText.make(bytes: Array(buffer: row.14), limit: 4096))
        }
        return nil
    }

    /// The stored record of a dead letter, for replaying it; `nil` if there is none.
    public func deadLetterRecord(_ id: Int64) async throws -> DeadLetterRecord? {
        let rows = try await client.statement(
            """
            SELECT topic, key, payload, length(payload) = payload_size, headers::text
            FROM dead_letters WHERE id = \(id)
            """, logger: logger)
        for try await (topic, key, payload, isComplete, headers) in rows.decode(
            (String, ByteBuffer?, ByteBuffer, Bool, String).self)
        {
            return DeadLetterRecord(
                id: id, topic: topic, key: key.map { Array(buffer: $0) }, payload: Array(buffer: payload),
                isComplete: isComplete,
                headers: try JSONDecoder().decode([String: String].self, from: Data(headers.utf8)))
        }
        return nil
    }

    /// Records that `actor` replayed a dead letter (the record was produced again).
    public func markDeadLetterReplayed(_ id: Int64, actor: String, detail: String) async throws {
        try await transaction { connection in
            try await connection.query(
                "UPDATE dead_letters SET replays = replays + 1, replayed_at = now() WHERE id = \(id)", logger: logger)
            try await connection.query(
                """
                INSERT INTO dead_letter_actions (dead_letter_id, action, actor, detail)
                VALUES (\(id), 'replayed', \(actor), \(detail))
                """, logger: logger)
        }
    }

    /// Marks a dead letter discarded by `actor` (it stays stored, hidden from `dlq list`).
    ///
    /// - Returns: whether there was such a dead letter, not yet discarded.
    public func discardDeadLetter(_ id: Int64, actor: String, reason: String?) async throws -> Bool {
        try await transaction { connection in
            let rows = try await connection.query(
                "UPDATE dead_letters SET discarded_at = now() WHERE id = \(id) AND discarded_at IS NULL RETURNING 1",
                logger: logger)
            var found = false
            for try await _ in rows { found = true }
            guard found else { return false }
            try await connection.query(
                """
                INSERT INTO dead_letter_actions (dead_letter_id, action, actor, detail)
                VALUES (\(id), 'discarded', \(actor), \(reason))
                """, logger: logger)
            return true
        }
    }
}
