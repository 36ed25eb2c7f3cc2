import BatonCore
import Foundation
import PostgresNIO

/// An event waiting in the outbox.
public struct OutboxEvent: Sendable {
    /// The outbox row's id.
    public var id: Int64
    /// The Kafka topic to publish to.
    public var topic: String
    /// The Kafka record key, e.g. the run id or, for model events, the model's name; nil for none.
    public var key: String?
    /// The event to publish.
    public var event: CloudEvent
}

/// What became of the events of one relay batch.
public struct OutboxBatchResult: Sendable, Hashable {
    /// Events the broker acknowledged: marked published.
    public var published: [Int64] = []
    /// Events the broker refused for good, with the reason: parked (`failed_at`, `error`).
    public var parked: [Int64: String] = [:]
    /// Events to try again later, not before the given delay (a missing topic that may be
    /// re-created); the rest of a batch is simply left for the next pass.
    public var deferred: [Int64: Duration] = [:]
    /// How many due events the batch held.
    public var fetched = 0

    /// An empty result.
    public init() {}
}

/// A parked outbox event, for `baton outbox failed`.
public struct ParkedOutboxEvent: Sendable, Hashable, Codable {
    /// The outbox row's id.
    public var id: Int64
    /// The event's CloudEvents `type`.
    public var eventType: String
    /// The Kafka topic it was to be published to.
    public var topic: String
    /// The Kafka record key; nil for none.
    public var key: String?
    /// The size of the event's data, in bytes.
    public var payloadBytes: Int
    /// Why the broker refused the event.
    public var error: String
    /// When the event was written to the outbox.
    public var createdAt: Date
    /// When the event was parked.
    public var failedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, topic, key, error
        case eventType = "event_type"
        case payloadBytes = "payload_bytes"
        case createdAt = "created_at"
        case failedAt = "failed_at"
    }
}

extension MessagingStore {
    /// Publishes due outbox events in id order and records what became of each, in one transaction.
    ///
    /// Rows are locked with `FOR UPDATE SKIP LOCKED`, so several relays can run. `publish` says
    /// per event whether it was published, parked (refused for good: it no longer blocks the rows
    /// behind it) or deferred; events it does not mention stay due. Delivery is at least once, and
    /// consumers dedupe on the event id.
    ///
    /// - Returns: what `publish` reported.
    public func publishOutbox(
        limit: Int, _ publish: ([OutboxEvent]) async -> OutboxBatchResult
    ) async throws -> OutboxBatchResult {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                SELECT id, topic, key, event_id, event_type, source, subject, created_at, payload, traceparent
                FROM outbox
                WHERE published_at IS NULL AND failed_at IS NULL AND available_at <= now()
                ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var events: [OutboxEvent] = []
            for try await (id, topic, key, eventID, type, source, subject, createdAt, payload, stored) in rows.decode(
                (Int64, String, String?, String, String, String, String?, Date, ByteBuffer, String?).self)
            {
                // Every event about a run carries the run's trace (``RunTrace``): the context it
                // was written in, else one derived from its id.
                let traceparent =
                    stored
                    ?? RunTrace.runID(fromSubject: subject).map { RunTrace.traceparent(runID: $0, span: eventID) }
                let event = CloudEvent(
                    id: eventID, source: source, type: type, subject: subject, time: createdAt,
                    traceparent: traceparent, data: Array(buffer: payload))
                events.append(OutboxEvent(id: id, topic: topic, key: key, event: event))
            }
            guard !events.isEmpty else { return OutboxBatchResult() }
            var result = await publish(events)
            result.fetched = events.count
            if !result.published.isEmpty {
                try await connection.query(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY(\(result.published))", logger: logger)
            }
            for (id, error) in result.parked {
                try await connection.query(
                    "UPDATE outbox SET failed_at = now(), error = \(error) WHERE id = \(id)", logger: logger)
            }
            for (id, delay) in result.deferred {
                try await connection.query(
                    """
                    UPDATE outbox SET available_at = now() + make_interval(secs => \(delay.secondsDouble)) WHERE id = \(id)
                    """, logger: logger)
            }
            return result
        }
    }

    /// Writes `event` to the outbox, for the relay to publish to `topic` keyed by `key`: once this
    /// returns the event is durable, whether or not the broker is up (the CLI's requests and
    /// cancels go this way; consumers dedupe on the event id).
    public func enqueue(_ event: CloudEvent, topic: String, key: String) async throws {
        try await transaction { connection in try await enqueue(event, topic: topic, key: key, on: connection) }
    }

    /// Publishes again the `pipeline.requested` events of the outbox that `consumer` (the
    /// coordinator) has not handled `after` their last publication, so that a broker that lost
    /// its data after acknowledging a request does not lose the run (the coordinator dedupes on
    /// the event id). Each publication restarts the wait, so the sweeper looks only at requests
    /// published within the hour before `after` (index `outbox_requests_published`). A
    /// dead-lettered request is left to `baton dlq replay`; requests older than a day are left
    /// alone.
    ///
    /// - Returns: how many were queued to be published again.
    public func redriveUnhandledRequests(consumer: String, after: Duration, limit: Int = 100) async throws -> Int {
        // The inbox key as `inboxEventID(source:id:)` makes it: `source id`, or its digest when long.
        let rows = try await client.statement(
            """
            UPDATE outbox o SET published_at = NULL, available_at = now()
            WHERE o.id IN (
                SELECT r.id FROM outbox r
                WHERE r.event_type = 'pipeline.requested' AND r.failed_at IS NULL  -- a literal: the partial index's predicate
                  AND r.published_at < now() - make_interval(secs => \(after.secondsDouble))
                  AND r.published_at > now() - make_interval(secs => \(after.secondsDouble)) - interval '1 hour'
                  AND r.created_at > now() - interval '1 day'
                  AND NOT EXISTS (
                      SELECT 1 FROM inbox i WHERE i.consumer = \(consumer) AND i.event_id =
                          CASE WHEN octet_length(r.source || ' ' || r.event_id) > \(RequestLimits.maxEventIDBytes)
                               THEN 'sha256:' || encode(sha256(convert_to(r.source || ' ' || r.event_id, 'UTF8')), 'hex')
                               ELSE r.source || ' ' || r.event_id END)
                  AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.event_id = r.event_id)
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING o.id
            """, logger: logger)
        var count = 0
        for try await _ in rows.decode(Int64.self) { count += 1 }
        return count
    }

    /// Parked outbox events, oldest first.
    public func parkedOutboxEvents(limit: Int) async throws -> [ParkedOutboxEvent] {
        let rows = try await client.statement(
            """
            SELECT id, event_type, topic, key, length(payload), error, created_at, failed_at FROM outbox
            WHERE failed_at IS NOT NULL AND published_at IS NULL ORDER BY id LIMIT \(limit)
            """, logger: logger)
        var events: [ParkedOutboxEvent] = []
        for try await (id, type, topic, key, bytes, error, createdAt, failedAt) in rows.decode(
            (Int64, String, String, String?, Int, String?, Date, Date).self)
        {
            events.append(
                ParkedOutboxEvent(
                    id: id, eventType: type, topic: topic, key: key, payloadBytes: bytes, error: error ?? "",
                    createdAt: createdAt, failedAt: failedAt))
        }
        return events
    }

    /// Un-parks outbox events (all of them when `ids` is `nil`), so the relay tries them again.
    ///
    /// - Returns: how many were un-parked.
    public func retryParkedOutboxEvents(ids: [Int64]?) async throws -> Int {
        let rows = try await client.statement(
            """
            UPDATE outbox SET failed_at = NULL, error = NULL, available_at = now()
            WHERE failed_at IS NOT NULL AND published_at IS NULL AND (\(ids == nil) OR id = ANY(\(ids ?? [])))
            RETURNING 1
            """, logger: logger)
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }

    /// How many outbox events are parked now.
    public func parkedOutboxCount() async throws -> Int {
        let rows = try await client.statement(
            "SELECT count(*)::int FROM outbox WHERE failed_at IS NOT NULL AND published_at IS NULL", logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Seconds until the next delayed outbox event is due, if any (so the relay can sleep exactly).
    public func nextOutboxDelay() async throws -> Duration? {
        let rows = try await client.statement(
            """
            SELECT extract(epoch FROM min(available_at) - now())::float8 FROM outbox
            WHERE published_at IS NULL AND failed_at IS NULL
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
        try await client.statement(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => \(outboxAge.secondsDouble))",
            logger: logger)
        try await client.statement(
            "DELETE FROM inbox WHERE processed_at < now() - make_interval(secs => \(inboxAge.secondsDouble))",
            logger: logger)
    }

    /// Calls `notify` at every `NOTIFY baton_outbox` (sent when an outbox row is written), on one
    /// pooled connection, until the connection drops (it throws) or the task is cancelled.
    public func listenForOutboxRows(_ notify: @escaping @Sendable () -> Void) async throws {
        try await client.withSession { try await $0.listen("baton_outbox", notify) }
    }
}
