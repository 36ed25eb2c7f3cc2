// MARK: - KafkaConsumerMessages

/// The records a ``KafkaConsumer`` receives, as an asynchronous sequence.
///
/// Iterate it from one task at a time. The sequence buffers up to
/// ``KafkaConsumerConfiguration/messageBufferSize`` records; while it is full, fetching pauses
/// (backpressure). It ends (returns `nil`) when the consumer shuts down, and throws the
/// consumer's error once if the consumer failed.
///
/// - Important: When a rebalance revokes partitions, their records still in the buffer are
///   dropped and will be delivered to the partitions' new owner. A record already handed out
///   may be processed here too; its commit may then fail, and the new owner processes it again,
///   so processing must be idempotent (Baton dedupes through its inbox).
public struct KafkaConsumerMessages: AsyncSequence, Sendable {
    /// A received record.
    public typealias Element = KafkaConsumerMessage

    let buffer: KafkaMessageBuffer

    /// Makes the iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer)
    }

    /// Takes records from the consumer's buffer.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: KafkaMessageBuffer

        /// The next record, or `nil` once the consumer shut down.
        ///
        /// - Throws: ``KafkaError`` when the consumer failed; `CancellationError` when the
        ///   calling task was cancelled while waiting.
        public mutating func next() async throws -> KafkaConsumerMessage? {
            try await buffer.next()
        }
    }
}
