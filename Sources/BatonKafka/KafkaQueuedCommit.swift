/// A commit handed to librdkafka whose answer may still be on its way.
public struct KafkaQueuedCommit: Sendable {
    let commits: RDKafkaPendingOperations<Void>
    let id: UInt

    /// Waits for the broker's answer, without blocking a thread.
    ///
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/commitFailed`` (for example when the
    ///   partition was revoked meanwhile: its new owner will process the record again), or
    ///   ``KafkaError/Code/clientClosed`` when the consumer closed first.
    public func acknowledged() async throws {
        try await commits.wait(id)
    }
}
