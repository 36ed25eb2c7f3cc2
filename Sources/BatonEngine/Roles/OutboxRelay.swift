import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tracing

/// The outbox relay role: publishes outbox rows to Kafka, then marks them published.
///
/// No row blocks the rows behind it: a row the broker refuses for good (too large, topic
/// denied, invalid) is parked with its error (`baton outbox failed`), a row whose topic does
/// not exist (yet) is deferred, and a broker that is away is waited out with backoff.
///
/// It wakes on PostgreSQL `NOTIFY baton_outbox`, on a poll timer (in case a notification is
/// missed) and when the next delayed event (a retry backoff) falls due. Several relays may run:
/// rows are locked with `SKIP LOCKED`.
public struct OutboxRelay: Service {
    private let outbox: any OutboxSource
    private let publisher: any EventPublisher
    private let configuration: EngineConfiguration
    private let logger: Logger

    /// Creates the relay; it publishes through `producer`.
    public init(configuration: EngineConfiguration, messaging: MessagingStore, producer: KafkaProducer, logger: Logger)
    {
        self.init(configuration: configuration, outbox: messaging, publisher: producer, logger: logger)
    }

    /// Creates the relay over any outbox and publisher (the tests' in-memory ones).
    init(configuration: EngineConfiguration, outbox: any OutboxSource, publisher: any EventPublisher, logger: Logger) {
        self.outbox = outbox
        self.publisher = publisher
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKeys.role] = "relay"
        self.logger = logger
    }

    /// Publishes due rows as they appear, until graceful shutdown.
    public func run() async throws {
        let (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await listen(continuation) }
            group.addTask {
                while !Task.isCancelled {
                    continuation.yield()
                    let delay = (try? await outbox.nextOutboxDelay()) ?? nil
                    let wait = min(delay ?? configuration.relayPollInterval, configuration.relayPollInterval)
                    try? await Task.sleep(for: max(wait, .milliseconds(10)))
                }
                continuation.finish()
            }
            for await _ in wakeups.cancelOnGracefulShutdown() {
                await drain(within: configuration.relayPassTimeout)
            }
            group.cancelAll()
        }
    }

    /// Runs ``drain()``, waiting at most `limit`: a pass stuck past every timeout of its own (seen
    /// once after a broker wipe, a PostgreSQL restart and a producer rebuild within one pass)
    /// must not stop the relay. The stuck pass is left to end on its own; its rows stay locked
    /// only while its transaction lives, and other passes skip them (`SKIP LOCKED`). Shutdown
    /// cancels the pass, as when it ran inline.
    private func drain(within limit: Duration) async {
        let pass = Task { [self] in await drain() }
        let finished = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let once = ResumeOnce(continuation)
                let timer = Task {
                    guard (try? await Task.sleep(for: limit)) != nil else { return }
                    once.resume(false)
                }
                Task {
                    await pass.value
                    timer.cancel()
                    once.resume(true)
                }
            }
        } onCancel: {
            pass.cancel()
        }
        if !finished {
            logger.error(
                "outbox relay pass still running after its time limit; starting another",
                metadata: [LogKeys.timeLimit: "\(limit)"])
        }
    }

    /// Publishes until the outbox has nothing due; backs off when the broker accepted nothing.
    private func drain() async {
        var backoff = Backoff(first: .milliseconds(200), maximum: .seconds(5))
        while !Task.isCancelled {
            do {
                var acknowledged: ContinuousClock.Instant?
                let result = try await outbox.publishOutbox(limit: configuration.relayBatchSize) { events in
                    let read = Date.now
                    for event in events {
                        EngineMetrics.hop(
                            .outboxWait, consumer: "relay", seconds: read.timeIntervalSince(event.event.time))
                    }
                    let result = await publish(events)
                    acknowledged = .now
                    return result
                }
                if let acknowledged, !result.published.isEmpty {
                    EngineMetrics.hop(
                        .relayCommit, consumer: "relay", seconds: (ContinuousClock.now - acknowledged).secondsDouble)
                }
                EngineMetrics.published(result.published.count)
                if !result.parked.isEmpty {
                    EngineMetrics.outboxParked(result.parked.count)
                    for (id, error) in result.parked {
                        logger.error(
                            "outbox event parked: the broker refused it for good",
                            metadata: [LogKeys.outboxID: "\(id)", LogKeys.error: "\(error)"])
                    }
                }
                let handled = result.published.count + result.parked.count + result.deferred.count
                if handled < result.fetched {
                    // The broker took only part of the batch: give it time before the next pass.
                    await backoff.wait()
                    return
                }
                if result.fetched < configuration.relayBatchSize { return }
            } catch {
                logger.warning(
                    "outbox publish failed; will retry", metadata: [LogKeys.error: "\(describeError(error))"])
                await backoff.wait()
                return
            }
        }
    }

    /// Sends one batch. One topic and key (one run's events on one topic) is sent in outbox order,
    /// topic-keys in parallel: a run's events keep their order, and a batch costs about one round
    /// trip per event of its busiest run. An event the broker refuses for good is parked and the
    /// events behind it go on; a transient failure stops that topic-key for this pass.
    private func publish(_ events: [OutboxEvent]) async -> OutboxBatchResult {
        let groups = Dictionary(grouping: events) { OutboxLane(topic: $0.topic, key: $0.key) }
        return await withTaskGroup(of: OutboxBatchResult.self) { sends in
            for (_, lane) in groups {
                sends.addTask { await publishLane(lane) }
            }
            var result = OutboxBatchResult()
            for await part in sends {
                result.published += part.published
                result.parked.merge(part.parked) { first, _ in first }
                result.deferred.merge(part.deferred) { first, _ in first }
            }
            return result
        }
    }

    private func publishLane(_ lane: [OutboxEvent]) async -> OutboxBatchResult {
        var result = OutboxBatchResult()
        for outbox in lane {
            // A producer span per event of a run, a child of the context the event was written
            // in; the event carries the span's context on, to its consumers.
            var event = outbox.event
            let runID = RunTrace.runID(fromSubject: event.subject)
            let span = runID.map {
                startSpan(
                    "relay publish \(EventType(rawValue: event.type)?.rawValue ?? "event")",
                    context: RunTrace.context(runID: $0, parent: event.traceparent), ofKind: .producer)
            }
            defer { span?.end() }
            if let span, let runID {
                span.attributes["messaging.destination.name"] = outbox.topic
                event.traceparent = RunTrace.traceparent(of: span.context, runID: runID) ?? event.traceparent
            }
            let message = KafkaEvents.message(event, topic: outbox.topic, key: outbox.key)
            let size =
                message.value.count + (message.key?.count ?? 0)
                + message.headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) }
            if size > configuration.maxMessageBytes {
                result.parked[outbox.id] =
                    "event is \(size) bytes; the broker accepts at most \(configuration.maxMessageBytes) (message.max.bytes)"
                continue
            }
            do {
                let sent = ContinuousClock.now
                try await publisher.publish(message)
                EngineMetrics.hop(.relayPublish, consumer: "relay", seconds: (ContinuousClock.now - sent).secondsDouble)
                result.published.append(outbox.id)
            } catch let error as KafkaError {
                span?.recordError(error)
                switch OutboxRefusal.classify(error, createdAt: outbox.event.time) {
                case .permanent:
                    result.parked[outbox.id] = error.description
                    continue
                case .missingTopic:
                    result.deferred[outbox.id] = .seconds(5)
                case .transient:
                    break
                }
                logger.warning(
                    "outbox event not published; will retry",
                    metadata: [
                        LogKeys.outboxID: "\(outbox.id)", LogKeys.topic: "\(outbox.topic)", LogKeys.error: "\(error)",
                    ])
                return result
            } catch {
                return result
            }
        }
        return result
    }

    /// Forwards `NOTIFY baton_outbox` as wake-ups; reconnects when the connection drops.
    private func listen(_ continuation: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await outbox.listenForOutboxRows { continuation.yield() }
            } catch {
                if Task.isCancelled { return }
                logger.debug("outbox listener reconnecting", metadata: [LogKeys.error: "\(describeError(error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// One topic and key of an outbox batch: the unit whose events keep their order.
private struct OutboxLane: Hashable {
    var topic: String
    var key: String?
}

/// Resumes a continuation once; later calls do nothing.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: Bool) {
        continuation.withLock { pending in
            defer { pending = nil }
            return pending
        }?.resume(returning: value)
    }
}
