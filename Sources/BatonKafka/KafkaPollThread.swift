import Foundation
import Synchronization

// MARK: - KafkaPollThread

/// A dedicated OS thread for librdkafka's blocking calls, kept off Swift's cooperative pool.
///
/// The thread runs a body until the body returns; the body checks ``isStopRequested`` between
/// its bounded polls. ``join()`` waits for the body to return without blocking a thread.
final class KafkaPollThread: Sendable {
    private struct State {
        var isStopRequested = false
        var isFinished = false
        var joiners: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    private init() {}

    /// Starts a thread that runs `body` once.
    ///
    /// - Parameters:
    ///   - name: The thread's name, as seen in debuggers and `top -H`.
    ///   - body: The work; it gets the thread to check ``isStopRequested`` on.
    static func start(name: String, _ body: @escaping @Sendable (KafkaPollThread) -> Void) -> KafkaPollThread {
        let pollThread = KafkaPollThread()
        let thread = Thread {
            body(pollThread)
            pollThread.markFinished()
        }
        thread.name = name
        thread.start()
        return pollThread
    }

    /// Runs one blocking call on a new thread and returns its result.
    ///
    /// - Parameters:
    ///   - name: The thread's name.
    ///   - body: The blocking call.
    static func runBlocking<T: Sendable>(
        name: String,
        _ body: @escaping @Sendable () throws(KafkaError) -> T
    ) async throws(KafkaError) -> T {
        let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Result { () throws(KafkaError) -> T in try body() })
            }
            thread.name = name
            thread.start()
        }
        return try result.get()
    }

    /// Whether ``requestStop()`` was called.
    var isStopRequested: Bool {
        state.withLock { $0.isStopRequested }
    }

    /// Asks the body to return at its next check.
    func requestStop() {
        state.withLock { $0.isStopRequested = true }
    }

    /// Waits until the body has returned.
    func join() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isFinished = state.withLock { state in
                if !state.isFinished {
                    state.joiners.append(continuation)
                }
                return state.isFinished
            }
            if isFinished {
                continuation.resume()
            }
        }
    }

    private func markFinished() {
        let joiners = state.withLock { state in
            state.isFinished = true
            defer { state.joiners = [] }
            return state.joiners
        }
        for joiner in joiners {
            joiner.resume()
        }
    }
}
