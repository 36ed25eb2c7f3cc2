import BatonCore
import BatonStore
import Foundation
import OpenAPIRuntime

/// A run's events as Server-Sent Events: its history after a given event, then each new event
/// as the ``RunEventFeed`` announces it. Ends after the run's final event, when the request was
/// rejected, or after ``Limits/maximumDuration`` (the client reconnects with `Last-Event-ID`
/// and misses nothing). Sends a comment line after ``Limits/keepAlive`` of silence so that
/// proxies keep the connection open.
struct RunEventStream: AsyncSequence, Sendable {
    typealias Element = HTTPBody.ByteChunk

    /// How long a stream may stay open and stay silent.
    struct Limits: Sendable {
        /// After this long the stream ends; the client resumes with `Last-Event-ID`. Default: 1 h.
        var maximumDuration: Duration = .seconds(3600)
        /// A comment line is sent after this much silence. Default: 15 s.
        var keepAlive: Duration = .seconds(15)
    }

    /// Event types after which nothing more happens to a run.
    static let finalTypes: Set<String> = [
        EventType.runSucceeded, .runFailed, .runCancelled, .runRejectedByGate,
    ].map(\.rawValue).reduce(into: []) { $0.insert($1) }

    let runID: UUID
    let after: Int
    let runs: RunStore
    let feed: RunEventFeed
    let coordinatorConsumer: String
    let limits: Limits

    func makeAsyncIterator() -> Iterator {
        Iterator(stream: self, cursor: after)
    }

    struct Iterator: AsyncIteratorProtocol {
        let stream: RunEventStream
        var cursor: Int
        var subscription: (id: Int, wakes: AsyncStream<RunEventFeed.Wake>.AsyncIterator)?
        var started = ContinuousClock.now
        var lastWrite = ContinuousClock.now
        var ticks = 0
        var fetchNow = true
        var finished = false

        init(stream: RunEventStream, cursor: Int) {
            self.stream = stream
            self.cursor = cursor
        }

        mutating func next() async throws -> HTTPBody.ByteChunk? {
            while !finished {
                if subscription == nil {
                    let (id, wakes) = await stream.feed.subscribe(stream.runID)
                    subscription = (id, wakes.makeAsyncIterator())
                    // The first write tells the client how long to wait before reconnecting.
                    lastWrite = .now
                    return ArraySlice("retry: 2000\n\n".utf8)
                }
                if fetchNow {
                    fetchNow = false
                    let events = try await stream.runs.history(stream.runID, after: cursor, limit: 200)
                    if events.count == 200 { fetchNow = true }
                    if !events.isEmpty {
                        cursor = events.last!.seq
                        if events.contains(where: { RunEventStream.finalTypes.contains($0.type) }) { await finish() }
                        lastWrite = .now
                        return ArraySlice(events.flatMap(Self.encode))
                    }
                    if try await hasEnded() {
                        await finish()
                        return nil
                    }
                }
                guard let wake = await subscription?.wakes.next() else {
                    await finish()
                    return nil
                }
                switch wake {
                case .changed:
                    fetchNow = true
                case .tick:
                    ticks += 1
                    // A missed notification or a rejected request: look again every 5 seconds.
                    if ticks % 5 == 0 { fetchNow = true }
                    if ContinuousClock.now - started > stream.limits.maximumDuration {
                        await finish()
                        return nil
                    }
                    if ContinuousClock.now - lastWrite >= stream.limits.keepAlive {
                        lastWrite = .now
                        return ArraySlice(": keep-alive\n\n".utf8)
                    }
                }
            }
            return nil
        }

        /// Whether nothing more will come: the run ended (and its final event was sent before
        /// the cursor), or the request was rejected.
        private func hasEnded() async throws -> Bool {
            if let state = try await stream.runs.runState(stream.runID) { return state.isTerminal }
            let requested = try await stream.runs.requestedRun(stream.runID, consumer: stream.coordinatorConsumer)
            return requested?.state != "requested"
        }

        private mutating func finish() async {
            finished = true
            if let subscription { await stream.feed.unsubscribe(stream.runID, id: subscription.id) }
            subscription = nil
        }

        /// One event in the text/event-stream format; its JSON has no line breaks.
        static func encode(_ event: RunHistoryEvent) -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            // Milliseconds: a client can tell how long an event took to reach it.
            encoder.dateEncodingStrategy = .custom { date, encoder in
                var container = encoder.singleValueContainer()
                try container.encode(Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date))
            }
            let json = (try? encoder.encode(event)).map { Array($0) } ?? Array("{}".utf8)
            return Array("id: \(event.seq)\nevent: \(event.type)\ndata: ".utf8) + json + Array("\n\n".utf8)
        }
    }
}
