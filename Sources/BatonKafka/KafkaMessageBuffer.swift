import Synchronization

// MARK: - KafkaMessageBuffer

/// The consumer's bounded buffer: ``KafkaMessageBufferStateMachine`` behind a lock, with the
/// application's suspension as a continuation.
final class KafkaMessageBuffer: Sendable {
    typealias Waiter = CheckedContinuation<KafkaConsumerMessage?, any Error>

    private let state: Mutex<KafkaMessageBufferStateMachine<Waiter>>

    /// Creates a buffer that pauses fetching at `capacity` records.
    init(capacity: Int) {
        state = Mutex(KafkaMessageBufferStateMachine(capacity: capacity))
    }

    /// What the poll thread needs to know each round.
    struct PollStatus {
        var directive: KafkaMessageBufferStateMachine<Waiter>.FetchDirective
        var isDraining: Bool
        var hasConsumerSeenEnd: Bool
    }

    // MARK: - Poll thread

    /// Adds a received record (dropped while draining).
    func append(_ message: KafkaConsumerMessage) {
        let action = state.withLock { $0.append(message) }
        if case .resume(let waiter, let message) = action {
            waiter.resume(returning: message)
        }
    }

    /// The fetch directive and shutdown progress for this poll round.
    func pollStatus() -> PollStatus {
        state.withLock { state in
            PollStatus(
                directive: state.fetchDirective(),
                isDraining: state.isDraining,
                hasConsumerSeenEnd: state.hasConsumerSeenEnd
            )
        }
    }

    /// Drops buffered records of revoked partitions.
    @discardableResult
    func drop(partitions: Set<KafkaTopicPartition>) -> Int {
        state.withLock { $0.drop(partitions: partitions) }
    }

    /// Starts graceful shutdown.
    func beginDraining() {
        let waiter = state.withLock { $0.beginDraining() }
        waiter?.resume(returning: nil)
    }

    /// Ends the sequence, reporting `error` once if given.
    func finish(error: KafkaError?) {
        let waiter = state.withLock { $0.finish(error: error) }
        if let error {
            waiter?.resume(throwing: error)
        } else {
            waiter?.resume(returning: nil)
        }
    }

    // MARK: - Application

    /// The next record, or `nil` at the end.
    ///
    /// - Throws: the consumer's fatal error once, or `CancellationError` when the waiting task
    ///   is cancelled.
    func next() async throws -> KafkaConsumerMessage? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                let action: KafkaMessageBufferStateMachine<Waiter>.NextAction? = state.withLock { state in
                    if Task.isCancelled {
                        return nil
                    }
                    return state.next(waiter: continuation)
                }
                switch action {
                case nil:
                    continuation.resume(throwing: CancellationError())
                case .deliver(let message):
                    continuation.resume(returning: message)
                case .end:
                    continuation.resume(returning: nil)
                case .fail(let error):
                    continuation.resume(throwing: error)
                case .suspend:
                    break
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.cancelWaiter() }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
