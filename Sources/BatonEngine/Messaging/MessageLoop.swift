import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging
import Tracing

/// Consumes a consumer's messages: one lane per partition, in order within a lane, lanes in parallel.
///
/// Within a lane a message is handled, then its offset commit is queued, so the offset is
/// committed only after the handler's database transaction committed, and commits of a partition
/// stay in order (the broker's answer is awaited beside the lane, not in it). Every message ends in bounded time unless the infrastructure is away: a failure is
/// classified once (``HandlingFailure``); permanent ones (poison, a value that cannot be
/// encoded, a constraint the content violates) dead-letter the message at once, unknown ones
/// after `maxHandlingAttempts` tries, and transient ones (database or broker away, read-only
/// after a failover, disk full) are waited out with jittered backoff and never dead-letter a
/// message. A message whose handling is abandoned at shutdown keeps its offset uncommitted.
///
/// A handler may return follow-up work (a worker's execution of a claimed attempt): it runs
/// once the offset commit is queued, concurrently, bounded by `followUpLimit`, and never holds
/// the partition. Each step is measured (``HandoffHop``).
struct MessageLoop: Sendable {
    /// Work to run once a message's offset commit is queued.
    typealias FollowUp = @Sendable () async -> Void

    private let consumer: KafkaConsumer
    /// The inbox and dead-letter name of this consumer.
    private let consumerName: String
    private let deadLetters: DeadLetterQueue
    private let maxAttempts: Int
    private let logger: Logger
    /// Most messages taken from the consumer but not yet handled, over all lanes.
    private let maxInFlight = 256
    /// Most follow-ups running at once, over all lanes.
    private let followUpLimit: Int

    /// Creates the consumer of group `<prefix>.<group>` for `topics`.
    init(
        group: String, topics: [String], consumerName: String, followUpLimit: Int = 1,
        configuration: EngineConfiguration, messaging: MessagingStore, producer: KafkaProducer, logger: Logger
    ) throws {
        consumer = try KafkaConsumer(
            configuration: configuration.consumerConfiguration(group: group, topics: topics), logger: logger)
        deadLetters = DeadLetterQueue(
            messaging: messaging, producer: producer, topic: configuration.topics.deadLetters, logger: logger)
        self.consumerName = consumerName
        self.maxAttempts = configuration.maxHandlingAttempts
        self.followUpLimit = followUpLimit
        self.logger = logger
    }

    /// Runs the consumer and handles its messages until graceful shutdown.
    func run(_ handle: @escaping @Sendable (KafkaConsumerMessage) async throws -> FollowUp?) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await consumer.run() }
            group.addTask { try await handleMessages(handle) }
        }
    }

    /// A message as its lane receives it: with the moment the consumer handed it over.
    private struct Received: Sendable {
        var message: KafkaConsumerMessage
        var at: ContinuousClock.Instant
    }

    private func handleMessages(
        _ handle: @escaping @Sendable (KafkaConsumerMessage) async throws -> FollowUp?
    ) async throws {
        let inFlight = ConcurrencyLimit(maxInFlight)
        let followUps = ConcurrencyLimit(followUpLimit)
        try await withThrowingDiscardingTaskGroup { group in
            var lanes: [KafkaTopicPartition: AsyncStream<Received>.Continuation] = [:]
            defer { for lane in lanes.values { lane.finish() } }
            for try await message in consumer.messages {
                if let timestamp = message.timestamp {
                    EngineMetrics.hop(
                        .delivery, consumer: consumerName, seconds: Date.now.timeIntervalSince(timestamp))
                }
                let received = Received(message: message, at: .now)
                await inFlight.acquire()
                if let lane = lanes[message.topicPartition] {
                    lane.yield(received)
                    continue
                }
                let (stream, lane) = AsyncStream.makeStream(of: Received.self)
                lanes[message.topicPartition] = lane
                lane.yield(received)
                group.addTask {
                    await runLane(stream, handle: handle, inFlight: inFlight, followUps: followUps)
                }
            }
        }
    }

    /// Handles a partition's messages in order. Each offset is handed to librdkafka as soon as its
    /// message is handled (commits queued in order reach the broker in order) and its answer is
    /// awaited beside the lane, so the lane and a follow-up never wait a broker round trip.
    private func runLane(
        _ stream: AsyncStream<Received>,
        handle: @Sendable (KafkaConsumerMessage) async throws -> FollowUp?,
        inFlight: ConcurrencyLimit, followUps: ConcurrencyLimit
    ) async {
        await withDiscardingTaskGroup { running in
            for await received in stream {
                let message = received.message
                EngineMetrics.hop(
                    .laneWait, consumer: consumerName, seconds: (ContinuousClock.now - received.at).secondsDouble)
                let ending = await process(message, handle)
                inFlight.release()
                // A message whose handling was abandoned (shutdown) keeps its offset: the next owner
                // of the partition reads it again.
                guard case .ended(let followUp) = ending else { continue }
                let handled = ContinuousClock.now
                if let commit = queueCommit(message) {
                    running.addTask { await acknowledged(commit, of: message, queuedAt: handled) }
                }
                if let followUp {
                    await followUps.acquire()
                    EngineMetrics.hop(
                        .executionWait, consumer: consumerName, seconds: (ContinuousClock.now - handled).secondsDouble)
                    running.addTask {
                        await followUp()
                        followUps.release()
                    }
                }
            }
        }
    }

    /// Hands the message's offset commit to librdkafka; `nil` when it refused it.
    private func queueCommit(_ message: KafkaConsumerMessage) -> KafkaQueuedCommit? {
        do {
            return try consumer.queueCommit(message)
        } catch {
            logCommitFailure(error, of: message)
            return nil
        }
    }

    /// Waits for the broker's answer to a queued commit.
    private func acknowledged(
        _ commit: KafkaQueuedCommit, of message: KafkaConsumerMessage, queuedAt: ContinuousClock.Instant
    ) async {
        do {
            try await commit.acknowledged()
            EngineMetrics.hop(
                .offsetCommit, consumer: consumerName, seconds: (ContinuousClock.now - queuedAt).secondsDouble)
        } catch {
            logCommitFailure(error, of: message)
        }
    }

    /// The partition moved to another member (which re-reads the message and dedupes), or the
    /// consumer is shutting down.
    private func logCommitFailure(_ error: any Error, of message: KafkaConsumerMessage) {
        logger.warning(
            "offset commit failed",
            metadata: [
                LogKeys.topic: "\(message.topic)", LogKeys.offset: "\(message.offset)", LogKeys.error: "\(error)",
            ])
    }

    /// How the handling of one message ended.
    private enum Ending {
        /// Applied (with optional follow-up work) or dead-lettered: its offset may be committed.
        case ended(FollowUp?)
        /// The task was cancelled first: the offset must not be committed.
        case abandoned
    }

    /// The span of handling `message`: `<consumer> <event type>`, a child of the event's
    /// `traceparent` when the event is about a run (binary-mode headers; an event of another
    /// kind, or of a type Baton does not know, starts a trace of its own).
    static func span(of message: KafkaConsumerMessage, consumer: String) -> (String, ServiceContext) {
        func header(_ name: String) -> String? {
            message.headers.first { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        let type = header("ce_type").flatMap(EventType.init(rawValue:))?.rawValue ?? "message"
        guard let runID = RunTrace.runID(fromSubject: header("ce_subject")) else {
            return ("\(consumer) \(type)", .topLevel)
        }
        return ("\(consumer) \(type)", RunTrace.context(runID: runID, parent: header("traceparent")))
    }

    /// Handles a message until it is applied or dead-lettered: transient failures are waited out
    /// without limit, permanent ones dead-letter it at once, unknown ones after `maxAttempts` tries.
    private func process(
        _ message: KafkaConsumerMessage, _ handle: (KafkaConsumerMessage) async throws -> FollowUp?
    ) async -> Ending {
        var unknownFailures = 0
        var backoff = Backoff()
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                let (name, context) = Self.span(of: message, consumer: consumerName)
                let followUp = try await withSpan(name, context: context, ofKind: .consumer) { span in
                    span.attributes["messaging.destination.name"] = message.topic
                    span.attributes["messaging.kafka.offset"] = Int(message.offset)
                    return try await handle(message)
                }
                EngineMetrics.handlingLatency(
                    consumer: consumerName, seconds: (ContinuousClock.now - started).secondsDouble)
                return .ended(followUp)
            } catch {
                if Task.isCancelled { return .abandoned }
                let failure = HandlingFailure.classify(error)
                if failure == .unknown { unknownFailures += 1 }
                if failure == .permanent || unknownFailures >= maxAttempts {
                    let reason = (error as? PoisonMessage)?.reason ?? describeError(error)
                    let attempts = failure == .permanent ? unknownFailures + 1 : unknownFailures
                    let stored = await deadLetters.send(
                        message, consumer: consumerName, error: reason, attempts: attempts)
                    return stored ? .ended(nil) : .abandoned
                }
                EngineMetrics.handlingRetried(consumer: consumerName, transient: failure == .transient)
                logger.warning(
                    "handling failed; retrying",
                    metadata: [
                        LogKeys.topic: "\(message.topic)", LogKeys.offset: "\(message.offset)",
                        LogKeys.error: "\(describeError(error).prefix(1000))", LogKeys.failure: "\(failure)",
                        LogKeys.retryInMilliseconds: "\(backoff.next.milliseconds)",
                    ])
                await backoff.wait()
            }
        }
        return .abandoned
    }
}
