import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging
import PostgresNIO

/// Consumes a consumer's messages: one lane per partition, in order within a lane, lanes in parallel.
///
/// Within a lane a message is handled, then its offset committed, so the offset is committed
/// only after the handler's database transaction committed, and commits of a partition stay in
/// order. Poison messages go to the dead-letter queue at once; messages whose handling the
/// database refused are retried with backoff, then dead-lettered; while the database or broker
/// cannot be reached the lane keeps retrying, so nothing is lost.
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
        configuration: EngineConfiguration, store: BatonStore, producer: KafkaProducer, logger: Logger
    ) throws {
        consumer = try KafkaConsumer(
            configuration: configuration.consumerConfiguration(group: group, topics: topics), logger: logger)
        deadLetters = DeadLetterQueue(
            store: store, producer: producer, topic: configuration.topics.deadLetters, logger: logger)
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
                let followUp = await process(message, handle)
                await commit(message)
                inFlight.release()
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

    private func process(
        _ message: KafkaConsumerMessage, _ handle: (KafkaConsumerMessage) async throws -> FollowUp?
    ) async -> FollowUp? {
        var refusals = 0
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                let followUp = try await handle(message)
                EngineMetrics.handlingLatency(
                    consumer: consumerName, seconds: (ContinuousClock.now - started).secondsDouble)
                return followUp
            } catch let poison as PoisonMessage {
                await deadLetter(message, error: poison.reason, attempts: 1)
                return nil
            } catch {
                // A server-side refusal counts toward dead-lettering; an unreachable database does not.
                if Self.isRefusal(error) { refusals += 1 }
                if refusals >= maxAttempts {
                    await deadLetter(message, error: describeError(error), attempts: refusals)
                    return nil
                }
                logger.warning(
                    "handling failed; retrying",
                    metadata: [
                        LogKeys.topic: "\(message.topic)", LogKeys.offset: "\(message.offset)",
                        LogKeys.error: "\(describeError(error))", "retry_in_ms": "\(backoff.milliseconds)",
                    ])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
        return nil
    }

    private func deadLetter(_ message: KafkaConsumerMessage, error: String, attempts: Int) async {
        var backoff: Duration = .milliseconds(200)
        while !Task.isCancelled {
            do {
                try await deadLetters.send(message, consumer: consumerName, error: error, attempts: attempts)
                return
            } catch {
                logger.warning("dead-lettering failed; retrying", metadata: [LogKeys.error: "\(error)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }

    private static func isRefusal(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            return isRefusal(error.closureError ?? error.commitError ?? error.beginError ?? error)
        }
        if let error = error as? PSQLError { return error.serverInfo != nil }
        return error is DecodingError || error is StoreError
    }
}
