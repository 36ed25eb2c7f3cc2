import BatonCore
import Foundation
import PostgresNIO

/// An event waiting in the outbox.
public struct OutboxEvent: Sendable {
    public var id: Int64
    public var topic: String
    public var key: String?
    public var event: CloudEvent
}

extension BatonStore {
    /// Publishes due outbox events in id order and marks them published, in one transaction.
    ///
    /// Rows are locked with `FOR UPDATE SKIP LOCKED`, so several relays can run. If `publish`
    /// throws, nothing is marked and the rows are retried: delivery is at least once, and
    /// consumers dedupe on the event id.
    ///
    /// - Returns: how many events were published.
    public func publishOutbox(limit: Int, _ publish: ([OutboxEvent]) async throws -> Void) async throws -> Int {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                SELECT id, topic, key, event_id, event_type, source, subject, created_at, payload FROM outbox
                WHERE published_at IS NULL AND available_at <= now()
                ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var events: [OutboxEvent] = []
            for try await (id, topic, key, eventID, type, source, subject, createdAt, payload) in rows.decode(
                (Int64, String, String?, String, String, String, String?, Date, ByteBuffer).self)
            {
                let event = CloudEvent(
                    id: eventID, source: source, type: type, subject: subject, time: createdAt,
                    data: Array(buffer: payload))
                events.append(OutboxEvent(id: id, topic: topic, key: key, event: event))
            }
            guard !events.isEmpty else { return 0 }
            try await publish(events)
            try await connection.query(
                "UPDATE outbox SET published_at = now() WHERE id = ANY(\(events.map(\.id)))", logger: logger)
            return events.count
        }
    }

    /// Seconds until the next delayed outbox event is due, if any (so the relay can sleep exactly).
    public func nextOutboxDelay() async throws -> Duration? {
        let rows = try await client.query(
            """
            SELECT extract(epoch FROM min(available_at) - now())::float8 FROM outbox WHERE published_at IS NULL
            """, logger: logger)
        for try await seconds in rows.decode(Double?.self) {
            return seconds.map { .milliseconds(Int64(max(0, $0) * 1000)) }
        }
        return nil
    }

    /// Deletes published outbox rows older than `outboxAge` and inbox rows older than `inboxAge`.
    ///
    /// The inbox age is the dedupe window: keep it longer than the topics' retention, so a
    /// redelivered event is always recognised.
    public func pruneHistory(outboxAge: Duration, inboxAge: Duration) async throws {
        try await client.query(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => \(outboxAge.secondsDouble))",
            logger: logger)
        try await client.query(
            "DELETE FROM inbox WHERE processed_at < now() - make_interval(secs => \(inboxAge.secondsDouble))",
            logger: logger)
    }
}
