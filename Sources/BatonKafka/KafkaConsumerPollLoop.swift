import CRdKafka
import Logging
import Synchronization

// MARK: - KafkaConsumerPollLoop

/// What a consumer's poll thread does, from subscribing to destroying the handle.
///
/// Every librdkafka call of the consumer but commits runs here, on one dedicated thread:
/// polling (which also serves rebalance, error and commit callbacks), pausing and resuming
/// fetching for backpressure, closing and destroying.
final class KafkaConsumerPollLoop: Sendable {
    private let client: RDKafkaClient
    private let buffer: KafkaMessageBuffer
    private let assignment: KafkaConsumerAssignment
    private let configuration: KafkaConsumerConfiguration
    private let logger: Logger
    private let failure = Mutex<KafkaError?>(nil)
    private static let pausedPollInterval: Duration = .milliseconds(5)
    private let pastEnd: KafkaPartitionsPastEnd

    init(
        client: RDKafkaClient,
        buffer: KafkaMessageBuffer,
        assignment: KafkaConsumerAssignment,
        pastEnd: KafkaPartitionsPastEnd,
        configuration: KafkaConsumerConfiguration,
        logger: Logger
    ) {
        self.pastEnd = pastEnd
        self.client = client
        self.buffer = buffer
        self.assignment = assignment
        self.configuration = configuration
        self.logger = logger
    }

    /// The error the loop stopped with, if it failed.
    var error: KafkaError? {
        failure.withLock { $0 }
    }

    /// Subscribes, polls until asked to stop or drained, closes and destroys; blocks the
    /// calling thread throughout.
    func run(on thread: KafkaPollThread) {
        var error: KafkaError?
        do {
            try client.subscribe(to: configuration.topics)
            logger.info("Kafka consumer subscribed", metadata: [KafkaLogMetadataKey.topic: "\(configuration.topics)"])
            error = poll(on: thread)
        } catch let subscriptionError {
            error = subscriptionError
        }
        if let error {
            logger.error("Kafka consumer stopped: \(error.reason)")
        }
        // Leaving the group promptly lets the others take over its partitions now rather than
        // after a session timeout.
        if let closeError = client.closeConsumer() {
            logger.warning("\(closeError.reason)")
        }
        assignment.clear()
        client.context.commits.failAll(
            .clientClosed("The consumer closed before the commit was acknowledged; the record will be delivered again.")
        )
        failure.withLock { $0 = error }
        buffer.finish(error: error)
        client.destroy()
        logger.info("Kafka consumer closed")
    }

    /// Polls until a stop request, the end of graceful draining, or a fatal error.
    private func poll(on thread: KafkaPollThread) -> KafkaError? {
        var drainDeadline: ContinuousClock.Instant?
        while !thread.isStopRequested {
            restartPartitionsPastEnd()
            let status = buffer.pollStatus()
            if status.isDraining {
                if drainDeadline == nil {
                    logger.info("Kafka consumer draining for graceful shutdown")
                    drainDeadline = .now.advanced(by: configuration.shutdownGracePeriod)
                    client.setFetchPaused(true)
                }
                if status.hasConsumerSeenEnd || drainDeadline! <= .now {
                    return nil
                }
            } else if status.directive == .pause {
                logger.debug("Kafka consumer buffer full; pausing fetch")
                client.setFetchPaused(true)
            } else if status.directive == .resume {
                logger.debug("Kafka consumer buffer drained; resuming fetch")
                client.setFetchPaused(false)
            }
            if let fatal = client.context.fatalError.withLock({ $0 }) {
                return fatal
            }
            // While paused nothing arrives, so poll briefly: resuming promptly keeps records flowing.
            let timeout =
                client.context.isFetchPaused.load(ordering: .relaxed) && !status.isDraining
                ? min(configuration.pollInterval, Self.pausedPollInterval) : configuration.pollInterval
            switch client.consumerPoll(timeout: timeout) {
            case nil:
                continue
            case .message(let message):
                buffer.append(message)
            case .error(let error, let isFatal):
                if isFatal {
                    return error
                }
                logger.warning(
                    "\(error.reason)",
                    metadata: [KafkaLogMetadataKey.error: "\(error.underlyingName ?? "")"]
                )
            }
        }
        return nil
    }

    /// Starts again, as `auto.offset.reset` says, in each partition the broker lost records of
    /// (its end is now before this consumer's position); the records after the loss are
    /// delivered, and the application's dedupe absorbs any it had seen.
    private func restartPartitionsPastEnd() {
        let past = pastEnd.take()
        guard !past.isEmpty else { return }
        let described = past.map { "\($0.topic)/\($0.partition) at \($0.nextOffset), end \($0.end)" }
            .joined(separator: ", ")
        let offset: Int64
        switch configuration.autoOffsetReset {
        case .earliest: offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        case .latest: offset = Int64(RD_KAFKA_OFFSET_END)
        default:
            logger.error(
                "Kafka consumer positioned past the end of partitions, and autoOffsetReset is error: \(described)")
            return
        }
        logger.warning(
            "Kafka consumer positioned past the end of partitions (the broker lost records); reading them again per autoOffsetReset",
            metadata: [KafkaLogMetadataKey.partitions: "\(described)"])
        let partitions = past.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) }
        if let error = client.seek(partitions, to: offset) {
            logger.warning("\(error.reason)")
        }
    }
}
