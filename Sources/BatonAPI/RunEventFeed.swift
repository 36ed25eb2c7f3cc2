import BatonCore
import BatonStore
import Foundation
import Logging
import ServiceLifecycle

/// Wakes the live event streams of runs that have new events, with one query for all of them.
///
/// It listens for `NOTIFY baton_outbox` (every event of a run is written to the outbox, and a
/// trigger numbers it in the run's history), and every second in case a notification was missed:
/// each time it reads the history lengths of every followed run and wakes the streams whose
/// run grew. Every second it also sends each stream a ``Wake/tick``, which streams use for
/// keep-alive comments and time limits.
actor RunEventFeed: Service {
    /// Why a stream was woken.
    enum Wake: Sendable {
        /// Its run has new events.
        case changed
        /// A second passed.
        case tick
    }

    private let runs: RunStore
    private let messaging: MessagingStore
    private let logger: Logger
    private var streams: [UUID: [Int: AsyncStream<Wake>.Continuation]] = [:]
    private var lengths: [UUID: Int] = [:]
    private var nextID = 0

    init(runs: RunStore, messaging: MessagingStore, logger: Logger) {
        self.runs = runs
        self.messaging = messaging
        self.logger = logger
    }

    /// How many streams are open.
    var count: Int { streams.values.reduce(0) { $0 + $1.count } }

    /// Follows `runID`: the stream yields whenever the run has new events, and every second.
    func subscribe(_ runID: UUID) -> (id: Int, wakes: AsyncStream<Wake>) {
        nextID += 1
        let (wakes, continuation) = AsyncStream.makeStream(of: Wake.self, bufferingPolicy: .bufferingNewest(2))
        streams[runID, default: [:]][nextID] = continuation
        return (nextID, wakes)
    }

    /// Stops following for the stream `id`.
    func unsubscribe(_ runID: UUID, id: Int) {
        streams[runID]?[id]?.finish()
        streams[runID]?[id] = nil
        if streams[runID]?.isEmpty == true {
            streams[runID] = nil
            lengths[runID] = nil
        }
    }

    nonisolated func run() async throws {
        let (signals, signal) = AsyncStream.makeStream(of: Wake.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do {
                        try await self.messaging.listenForOutboxRows { signal.yield(.changed) }
                    } catch {
                        if Task.isCancelled { return }
                        self.logger.debug(
                            "event feed listener reconnecting", metadata: [LogKeys.error: "\(describeError(error))"])
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    signal.yield(.tick)
                }
            }
            for await wake in signals.cancelOnGracefulShutdown() {
                await self.check(tick: wake == .tick)
            }
            group.cancelAll()
        }
        await finishAll()
    }

    /// Reads the history lengths of the followed runs and wakes the streams of those that grew.
    private func check(tick: Bool) async {
        if tick { pruneAndTick() }
        let followed = Array(streams.keys)
        guard !followed.isEmpty else { return }
        do {
            for (runID, length) in try await runs.historyLengths(followed) where length > lengths[runID] ?? 0 {
                lengths[runID] = length
                for continuation in streams[runID, default: [:]].values { continuation.yield(.changed) }
            }
        } catch {
            logger.debug(
                "event feed could not read history lengths", metadata: [LogKeys.error: "\(describeError(error))"])
        }
    }

    /// Sends every stream a tick, and forgets the streams whose client went away (their
    /// iterator was dropped, so the yield finds the stream terminated).
    private func pruneAndTick() {
        for (runID, continuations) in streams {
            for (id, continuation) in continuations {
                if case .terminated = continuation.yield(.tick) { unsubscribe(runID, id: id) }
            }
        }
    }

    private func finishAll() {
        for continuation in streams.values.flatMap(\.values) { continuation.finish() }
        streams = [:]
    }
}
