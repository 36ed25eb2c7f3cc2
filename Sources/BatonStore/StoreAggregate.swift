import BatonCore
import Crypto
import Foundation
import Logging
import PostgresNIO

/// What every aggregate store shares: one connection pool, the topic names and event source of
/// the events it writes, and the logger.
struct StoreDatabase: Sendable {
    let client: PostgresClient
    let topics: EventTopics
    let source: String
    let logger: Logger
}

/// An aggregate store (runs, attempts, messaging, lineage, registry, mirror): its SQL, over the
/// shared ``StoreDatabase``, with the helpers every aggregate writes through (transactions,
/// the outbox, the inbox).
protocol StoreAggregate: Sendable {
    var database: StoreDatabase { get }
}

extension StoreAggregate {
    var client: PostgresClient { database.client }
    var topics: EventTopics { database.topics }
    var source: String { database.source }
    var logger: Logger { database.logger }

    /// Runs `body` in one transaction on a pooled connection (``DatabaseSession/transaction(logger:isolation:_:)``).
    func transaction<Result: Sendable>(
        _ body: (DatabaseSession) async throws -> Result
    ) async throws -> Result {
        try await client.withSession { session in
            try await session.transaction(logger: logger) { try await body($0) }
        }
    }

    /// Writes an event to the outbox, to be published by the relay not before `delay` has passed.
    func enqueue(
        _ event: CloudEvent, topic: String, key: String?, delay: Duration = .zero, on connection: DatabaseSession
    ) async throws {
        try await connection.query(
            """
            INSERT INTO outbox (event_id, event_type, source, subject, topic, key, payload, available_at, traceparent)
            VALUES (\(event.id), \(event.type), \(event.source), \(event.subject), \(topic), \(key),
                    \(ByteBuffer(bytes: event.data)), now() + make_interval(secs => \(delay.secondsDouble)),
                    \(Self.traceparent(of: event)))
            """, logger: logger)
    }

    /// The trace context to store with `event`: its own when it is a W3C `traceparent` (anything
    /// else a producer sent is dropped, never stored), else the current span's when that is of
    /// the event's run (``RunTrace/currentTraceparent(runID:)``).
    static func traceparent(of event: CloudEvent) -> String? {
        if let own = event.traceparent, own.utf8.count == 55, RunTrace.traceID(ofTraceparent: own) != nil {
            return own
        }
        return RunTrace.runID(fromSubject: event.subject).flatMap(RunTrace.currentTraceparent(runID:))
    }

    /// Writes a run-scoped event (keyed by run id, on the run events topic) to the outbox.
    func enqueueRunEvent(
        _ type: EventType, runID: UUID, stage: String? = nil, payload: some Encodable, on connection: DatabaseSession
    ) async throws {
        let event = try runEvent(type, runID: runID, stage: stage, payload: payload)
        try await enqueue(event, topic: topics.runEvents, key: runID.lowercased, on: connection)
    }

    /// A run-scoped event from this store's source, with subject `run/<id>[/stage/<stage>]`.
    func runEvent(_ type: EventType, runID: UUID, stage: String?, payload: some Encodable) throws -> CloudEvent {
        let subject = stage.map { "run/\(runID.lowercased)/stage/\($0)" } ?? "run/\(runID.lowercased)"
        return try CloudEvent(source: source, type: type, subject: subject, payload: payload)
    }

    /// The inbox key of an event: its CloudEvents identity, `source` and `id` (two producers may
    /// both count ids from 1), as `<source> <id>`; a key over ``RequestLimits/maxEventIDBytes`` (which
    /// the primary-key index could refuse) or with a NUL byte is kept as `sha256:` and its digest.
    static func inboxEventID(_ event: CloudEvent) -> String {
        inboxEventID(source: event.source, id: event.id)
    }

    /// The inbox key of the event `id` from `source`; see ``inboxEventID(_:)``.
    static func inboxEventID(source: String, id: String) -> String {
        let key = "\(source) \(id)"
        guard key.utf8.count > RequestLimits.maxEventIDBytes || key.utf8.contains(0) else { return key }
        return "sha256:" + SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Records that `consumer` handled `eventID`; `false` when it already had (a redelivery).
    func claimInbox(
        consumer: String, eventID: String, eventType: String, runID: UUID?, on connection: DatabaseSession
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO inbox (consumer, event_id, event_type, run_id, outcome)
            VALUES (\(consumer), \(eventID), \(eventType), \(runID), 'applied')
            ON CONFLICT DO NOTHING RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Sets the outcome of an inbox row written in this transaction.
    func markInbox(
        consumer: String, eventID: String, outcome: String, reason: String?, runID: UUID?,
        on connection: DatabaseSession
    ) async throws {
        try await connection.query(
            """
            UPDATE inbox SET outcome = \(outcome), reason = \(reason), run_id = coalesce(\(runID), run_id)
            WHERE consumer = \(consumer) AND event_id = \(eventID)
            """, logger: logger)
    }
}
