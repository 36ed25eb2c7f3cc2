import BatonKafka
import BatonStore

/// What the outbox relay reads and marks: the outbox. ``MessagingStore`` is the real one; the
/// relay's logic is unit-tested with an in-memory one.
protocol OutboxSource: Sendable {
    /// Locks due rows, hands them to `publish`, and records what it reports.
    func publishOutbox(
        limit: Int, _ publish: ([OutboxEvent]) async -> OutboxBatchResult
    ) async throws -> OutboxBatchResult
    /// How long until the next delayed row falls due; `nil` when none waits.
    func nextOutboxDelay() async throws -> Duration?
    /// Calls `notify` when rows are added, until cancelled or the connection drops.
    func listenForOutboxRows(_ notify: @escaping @Sendable () -> Void) async throws
}

extension MessagingStore: OutboxSource {}

/// Where the outbox relay sends: the broker. ``KafkaProducer`` is the real one.
protocol EventPublisher: Sendable {
    /// Returns once the broker acknowledged `message`.
    ///
    /// - Throws: `KafkaError`, whose librdkafka name says whether a retry can succeed.
    func publish(_ message: KafkaProducerMessage) async throws
}

extension KafkaProducer: EventPublisher {
    func publish(_ message: KafkaProducerMessage) async throws {
        _ = try await send(message)
    }
}
