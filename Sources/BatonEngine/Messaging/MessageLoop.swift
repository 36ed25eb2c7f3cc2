import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging
import Tracing

/// Consumes a consumer's messages: one lane per partition, in order within a lane, lanes in parallel.
///
/// Within a lane a message is handled, then its offset committed, so the offset is committed
/// only after the handler's database transaction committed, and commits of a partition stay in
/// order. Every message ends in bounded time unless the infrastructure is away: a failure is
/// classified once (``HandlingFailure``); permanent ones (poison, a value that cannot be
/// encoded, a constraint the content violates) dead-letter the message at once, unknown ones
/// after `maxHandlingAttempts` tries, and transient ones (database or broker away, read-only
/// after a failover, disk full) are waited out with jittered backoff and never dead-letter a
/// message. A message whose handling is abandoned at shutdown keeps its offset uncommitted.
///
/// A handler may return follow-up work (a worker's execution of a claimed attempt): it runs
/// after the commit, concurrently, bounded by `followUpLimit`, and never holds the partition.
struct MessageLoop: Sendable {
    /// Work to run after a message's offset is committed.
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

    private func handleMessages(
        _ handle: @escaping @Sendable (KafkaConsumerMessage) async throws -> FollowUp?
    ) async throws {
        let inFlight = ConcurrencyLimit(maxInFlight)
        let followUps = ConcurrencyLimit(followUpLimit)
        try await withThrowingDiscardingTaskGroup { group in
            var lanes: [KafkaTopicPartition: AsyncStream<KafkaConsumerMessage>.Continuation] = [:]
            defer { for lane in lanes.values { lane.finish() } }
            for try await message in consumer.messages {
                await inFlight.acquire()
                if let lane = lanes[message.topicPartition] {
                    lane.yield(message)
                    continue
                }
                let (stream, lane) = AsyncStream.makeStream(of: KafkaConsumerMessage.self)
                lanes[message.topicPartition] = lane
                lane.yield(message)
                group.addTask {
                    await runLane(stream, handle: handle, inFlight: inFlight, followUps: followUps)
                }
            }
        }
    }

    private func runLane(
        _ stream: AsyncStream<KafkaConsumerMessage>,
        handle: @Sendable (KafkaConsumerMessage) async throws -> FollowUp?,
        inFlight: ConcurrencyLimit, followUps: ConcurrencyLimit
    ) async {
        await withDiscardingTaskGroup { running in
            for await message in stream {
                let ending = await process(message, handle)
                inFlight.release()
                // A message whose handling was abandoned (shutdown) keeps its offset: the next owner
                // of the partition reads it again.
                guard case .ended(let followUp) = ending else { continue }
                await commit(message)
                if let followUp {
                    await followUps.acquire()
                    running.addTask {
                        await followUp()
                        followUps.release()
                    }
                }
            }
        }
    }

    private func commit(_ message: KafkaConsumerMessage) async {
        do {
            try await consumer.commit(message)
        } catch {
            // The partition moved to another member (which re-reads the message and dedupes),
            // or the consumer is shutting down.
            logger.warning(
                "offset commit failed",
                metadata: [
                    LogKeys.topic: "\(message.topic)", LogKeys.offset: "\(message.offset)", LogKeys.error: "\(error)",
                ])
        }
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
