// MARK: - KafkaMessageBufferStateMachine

/// The consumer's bounded buffer between its poll thread and the application, as a value.
///
/// The poll thread appends records and asks ``fetchDirective()`` whether to pause or resume
/// fetching (high watermark: the capacity; low watermark: half of it). The application takes
/// records with ``next(waiter:)``, suspending as `Waiter` while the buffer is empty. Every
/// transition returns what to do; the caller does it outside its lock. Generic over `Waiter` so
/// that tests can drive it without continuations.
struct KafkaMessageBufferStateMachine<Waiter> {
    /// The buffer's phase.
    enum Phase {
        /// Records flow.
        case active
        /// Graceful shutdown: no more records are handed out; the poll thread keeps serving
        /// commits until the application saw the end.
        case draining
        /// The consumer closed; `error` is reported once, then the sequence ends.
        case finished(KafkaError?)
    }

    /// What ``append(_:)`` asks the caller to do.
    enum AppendAction {
        case none
        /// Hand the record straight to the waiting application.
        case resume(Waiter, KafkaConsumerMessage)
    }

    /// What ``next(waiter:)`` asks the caller to do.
    enum NextAction {
        /// Return this record.
        case deliver(KafkaConsumerMessage)
        /// Return `nil`: the sequence ended.
        case end
        /// Throw this error.
        case fail(KafkaError)
        /// The waiter was stored; it will be resumed by a later transition.
        case suspend
    }

    /// What the poll thread should do about fetching.
    enum FetchDirective: Equatable {
        case none
        case pause
        case resume
    }

    private(set) var phase: Phase = .active
    private var elements: [KafkaConsumerMessage] = []
    private var head = 0
    private var waiter: Waiter?
    /// Whether fetching is paused for backpressure.
    private(set) var isFetchPaused = false
    /// Whether the application asked for a record after the end (so it finished the last one).
    private(set) var hasConsumerSeenEnd = false
    /// At or above this many buffered records, fetching pauses.
    let highWatermark: Int
    /// At or below this many buffered records, paused fetching resumes.
    let lowWatermark: Int

    /// Creates an empty buffer that pauses fetching at `capacity` records.
    init(capacity: Int) {
        highWatermark = max(1, capacity)
        lowWatermark = highWatermark / 2
    }

    /// How many records wait in the buffer.
    var count: Int { elements.count - head }

    /// Whether graceful shutdown began (or the buffer finished).
    var isDraining: Bool {
        if case .active = phase { return false }
        return true
    }

    // MARK: - Poll thread

    /// Adds a received record; dropped unless the buffer is active.
    mutating func append(_ message: KafkaConsumerMessage) -> AppendAction {
        guard case .active = phase else { return .none }
        if let waiter {
            self.waiter = nil
            return .resume(waiter, message)
        }
        elements.append(message)
        return .none
    }

    /// Whether to pause or resume fetching now; records the change.
    mutating func fetchDirective() -> FetchDirective {
        guard case .active = phase else { return .none }
        if !isFetchPaused, count >= highWatermark {
            isFetchPaused = true
            return .pause
        }
        if isFetchPaused, count <= lowWatermark {
            isFetchPaused = false
            return .resume
        }
        return .none
    }

    /// Drops buffered records of revoked partitions, so they are not processed by this member.
    ///
    /// - Returns: how many records were dropped.
    mutating func drop(partitions: Set<KafkaTopicPartition>) -> Int {
        guard !partitions.isEmpty, count > 0 else { return 0 }
        let before = count
        elements = elements[head...].filter { !partitions.contains($0.topicPartition) }
        head = 0
        return before - elements.count
    }

    /// Starts graceful shutdown: buffered records are dropped (uncommitted, they will be
    /// delivered again) and the sequence ends at the next request.
    ///
    /// - Returns: a waiting application to resume with `nil`.
    mutating func beginDraining() -> Waiter? {
        guard case .active = phase else { return nil }
        phase = .draining
        removeAll()
        return takeWaiterAtEnd()
    }

    /// Ends the sequence for good: the consumer closed.
    ///
    /// - Returns: a waiting application, to resume with `error` or `nil`.
    mutating func finish(error: KafkaError?) -> Waiter? {
        if case .finished = phase { return nil }
        phase = .finished(error)
        removeAll()
        guard waiter != nil else { return nil }
        if error != nil {
            phase = .finished(nil)  // reported now, through the waiter
        }
        return takeWaiterAtEnd()
    }

    // MARK: - Application

    /// The application asks for the next record.
    mutating func next(waiter: Waiter) -> NextAction {
        switch phase {
        case .active:
            if count > 0 {
                let message = elements[head]
                head += 1
                compactIfNeeded()
                return .deliver(message)
            }
            guard self.waiter == nil else {
                return .fail(
                    .consumerFailed("KafkaConsumer.messages was iterated from two tasks at once; use one iterator.")
                )
            }
            self.waiter = waiter
            return .suspend
        case .draining:
            hasConsumerSeenEnd = true
            return .end
        case .finished(let error):
            hasConsumerSeenEnd = true
            if let error {
                phase = .finished(nil)
                return .fail(error)
            }
            return .end
        }
    }

    /// The waiting application's task was cancelled.
    ///
    /// - Returns: the waiter to resume with a cancellation error, if one is waiting.
    mutating func cancelWaiter() -> Waiter? {
        defer { waiter = nil }
        return waiter
    }

    // MARK: - Helpers

    private mutating func takeWaiterAtEnd() -> Waiter? {
        guard let waiter else { return nil }
        self.waiter = nil
        hasConsumerSeenEnd = true
        return waiter
    }

    private mutating func removeAll() {
        elements.removeAll()
        head = 0
    }

    private mutating func compactIfNeeded() {
        if head == elements.count {
            removeAll()
        } else if head >= 1024, head * 2 >= elements.count {
            elements.removeFirst(head)
            head = 0
        }
    }
}
