import Synchronization

// MARK: - RDKafkaPendingOperations

/// Operations handed to librdkafka whose results arrive later in a callback.
///
/// Each operation gets a non-zero id that travels through librdkafka as an opaque pointer, so
/// no Swift object's lifetime depends on librdkafka calling back. A result may arrive before or
/// after its awaiter starts waiting; ``failAll(_:)`` resolves whatever librdkafka will never
/// answer once the client closes.
final class RDKafkaPendingOperations<Value: Sendable>: Sendable {
    private enum Entry {
        case reserved
        case waiting(CheckedContinuation<Value, any Error>)
        case completed(Result<Value, KafkaError>)
    }

    private struct State {
        var nextID: UInt = 1
        var entries: [UInt: Entry] = [:]
        var closedError: KafkaError?
    }

    private let state = Mutex(State())

    /// How many operations have not been awaited to the end.
    var count: Int {
        state.withLock { $0.entries.count }
    }

    /// Reserves an id for an operation about to be handed to librdkafka.
    ///
    /// - Throws: the error given to ``failAll(_:)`` once the client closed.
    func reserve() throws(KafkaError) -> UInt {
        let result: Result<UInt, KafkaError> = state.withLock { state in
            if let closedError = state.closedError {
                return .failure(closedError)
            }
            let id = state.nextID
            state.nextID &+= 1
            if state.nextID == 0 { state.nextID = 1 }
            state.entries[id] = .reserved
            return .success(id)
        }
        return try result.get()
    }

    /// Forgets an id whose operation librdkafka refused, so it will never be answered.
    func discard(_ id: UInt) {
        state.withLock { _ = $0.entries.removeValue(forKey: id) }
    }

    /// Records the result of an operation; wakes its awaiter if it is waiting.
    func complete(_ id: UInt, with result: Result<Value, KafkaError>) {
        let continuation: CheckedContinuation<Value, any Error>? = state.withLock { state in
            switch state.entries[id] {
            case .reserved:
                state.entries[id] = .completed(result)
                return nil
            case .waiting(let continuation):
                state.entries[id] = nil
                return continuation
            case .completed, nil:
                return nil
            }
        }
        continuation?.resume(with: result.mapError { $0 as any Error })
    }

    /// Waits for the result of a reserved operation.
    ///
    /// Not cancellable: librdkafka answers every operation (bounded by its timeout) or the
    /// client closes, which resolves it with ``failAll(_:)``.
    func wait(_ id: UInt) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            let ready: Result<Value, KafkaError>? = state.withLock { state in
                switch state.entries[id] {
                case .reserved:
                    state.entries[id] = .waiting(continuation)
                    return nil
                case .completed(let result):
                    state.entries[id] = nil
                    return result
                case .waiting, nil:
                    return .failure(.clientClosed("Internal error: operation \(id) is not pending."))
                }
            }
            if let ready {
                continuation.resume(with: ready.mapError { $0 as any Error })
            }
        }
    }

    /// Resolves every pending operation with `error` and refuses new ones.
    func failAll(_ error: KafkaError) {
        let waiting: [CheckedContinuation<Value, any Error>] = state.withLock { state in
            state.closedError = state.closedError ?? error
            var waiting: [CheckedContinuation<Value, any Error>] = []
            for (id, entry) in state.entries {
                switch entry {
                case .reserved:
                    state.entries[id] = .completed(.failure(error))
                case .waiting(let continuation):
                    state.entries[id] = nil
                    waiting.append(continuation)
                case .completed:
                    break
                }
            }
            return waiting
        }
        for continuation in waiting {
            continuation.resume(throwing: error)
        }
    }
}

// MARK: - Opaque ids

extension UInt {
    /// The id as the opaque pointer librdkafka carries (ids are never zero).
    var rdKafkaOpaque: UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: self)
    }

    /// The id carried in an opaque pointer, or zero.
    init(rdKafkaOpaque pointer: UnsafeMutableRawPointer?) {
        self = UInt(bitPattern: pointer)
    }
}
