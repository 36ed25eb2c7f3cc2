import Logging
import ServiceLifecycle
import Synchronization

// MARK: - KafkaConsumer

/// A member of a Kafka consumer group that receives records as an asynchronous sequence.
///
/// Run it as a `Service` (in a `ServiceGroup`, or by calling ``run()``) and iterate
/// ``messages`` from another task; commit each record with ``commit(_:)`` once it has been
/// processed. Offsets are never committed automatically.
///
/// ```swift
/// let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await consumer.run() }
///     for try await message in consumer.messages {
///         try await handle(message)
///         try await consumer.commit(message)
///     }
/// }
/// ```
///
/// All of librdkafka's blocking calls run on a dedicated thread that ``run()`` starts, never on
/// Swift's cooperative pool.
///
/// Rebalances are handled for both protocols (eager and cooperative): assigned partitions start
/// at the group's committed offset; on revoke, buffered records of the revoked partitions are
/// dropped (see ``KafkaConsumerMessages``).
///
/// On graceful shutdown (ServiceLifecycle's, or ``triggerGracefulShutdown()``) the consumer stops
/// fetching, drops buffered records, and ends ``messages`` at the application's next request;
/// until then, for at most ``KafkaConsumerConfiguration/shutdownGracePeriod``, it still serves
/// ``commit(_:)`` for the record in hand. Then it leaves the group, so the others take over
/// its partitions promptly, and ``run()`` returns. Cancelling ``run()`` closes at once.
public final class KafkaConsumer: Service, Sendable {
    /// The records received; iterate from one task. Ends when the consumer shuts down.
    public let messages: KafkaConsumerMessages
    /// The configuration the consumer was created with.
    public let configuration: KafkaConsumerConfiguration

    private enum Lifecycle {
        case idle
        case running(KafkaPollThread)
        case finished
    }

    private let client: RDKafkaClient
    private let buffer: KafkaMessageBuffer
    private let currentAssignment: KafkaConsumerAssignment
    private let pollLoop: KafkaConsumerPollLoop
    private let lifecycle = Mutex(Lifecycle.idle)
    private let logger: Logger

    /// Creates a consumer; it joins its group when ``run()`` starts.
    ///
    /// - Parameters:
    ///   - configuration: The group, topics, brokers and options.
    ///   - logger: Where the consumer and librdkafka log.
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/invalidConfiguration`` or
    ///   ``KafkaError/Code/clientCreationFailed``.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws {
        let properties = try configuration.properties()
        var logger = logger
        logger[metadataKey: KafkaLogMetadataKey.clientID] = "\(configuration.clientID)"
        logger[metadataKey: KafkaLogMetadataKey.groupID] = "\(configuration.groupID)"
        let buffer = KafkaMessageBuffer(capacity: configuration.messageBufferSize)
        let assignment = KafkaConsumerAssignment()
        let pastEnd = KafkaPartitionsPastEnd()
        let onStatistics = configuration.onStatistics
        let context = RDKafkaClientContext(
            logger: logger,
            rebalanceObserver: { event in
                assignment.apply(event)
                if case .revoked(let partitions, _) = event {
                    buffer.drop(partitions: Set(partitions))
                }
            },
            statisticsObserver: { statistics in
                pastEnd.note(statistics)
                onStatistics?(statistics)
            })
        let client = try RDKafkaClient.make(kind: .consumer, properties: properties, context: context)
        self.client = client
        self.buffer = buffer
        self.currentAssignment = assignment
        self.configuration = configuration
        self.logger = logger
        self.messages = KafkaConsumerMessages(buffer: buffer)
        self.pollLoop = KafkaConsumerPollLoop(
            client: client,
            buffer: buffer,
            assignment: assignment,
            pastEnd: pastEnd,
            configuration: configuration,
            logger: logger
        )
        logger.debug(
            "Kafka consumer created",
            metadata: [KafkaLogMetadataKey.configuration: "\(properties.redactedDescription)"]
        )
    }

    deinit {
        // run() destroys the handle on its thread; if it never ran, do it here, off this thread.
        guard case .idle = lifecycle.withLock({ $0 }) else { return }
        let client = self.client
        _ = KafkaPollThread.start(name: "baton-kafka-consumer-destroy") { _ in client.destroy() }
    }

    /// The partitions this member owns right now (a snapshot, for diagnostics and tests).
    public var assignment: [KafkaTopicPartition] {
        currentAssignment.snapshot
    }

    /// Joins the group and feeds ``messages`` until shutdown.
    ///
    /// Returns after graceful shutdown (or cancellation) once the consumer left the group.
    ///
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/alreadyRunning`` when called twice,
    ///   ``KafkaError/Code/subscriptionFailed`` or ``KafkaError/Code/clientFailed`` when the
    ///   consumer failed.
    public func run() async throws {
        let pollLoop = self.pollLoop
        let thread = try lifecycle.withLock { (lifecycle: inout Lifecycle) throws(KafkaError) -> KafkaPollThread in
            guard case .idle = lifecycle else {
                throw KafkaError.alreadyRunning("KafkaConsumer.run() may be called only once.")
            }
            let thread = KafkaPollThread.start(name: "baton-kafka-consumer") { thread in
                pollLoop.run(on: thread)
            }
            lifecycle = .running(thread)
            return thread
        }
        let buffer = self.buffer
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await thread.join()
            } onGracefulShutdown: {
                buffer.beginDraining()
            }
        } onCancel: {
            thread.requestStop()
        }
        lifecycle.withLock { $0 = .finished }
        if let error = pollLoop.error {
            throw error
        }
    }

    /// Starts graceful shutdown, as ServiceLifecycle's graceful shutdown does.
    ///
    /// Fetching stops, ``messages`` ends at the next request, and the consumer leaves the group;
    /// ``run()`` then returns.
    public func triggerGracefulShutdown() {
        buffer.beginDraining()
    }

    /// Commits a processed record: the group's offset for its partition becomes
    /// `message.offset + 1`.
    ///
    /// Returns once the broker acknowledged the commit; it waits without blocking a thread.
    /// Commits of one partition must be made in order (a later offset first would be undone).
    ///
    /// - Parameter message: The record that has been processed.
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/commitFailed`` (for example when the
    ///   partition was revoked meanwhile: its new owner will process the record again), or
    ///   ``KafkaError/Code/clientClosed`` when the consumer is not running.
    public func commit(_ message: KafkaConsumerMessage) async throws {
        try await queueCommit(message).acknowledged()
    }

    /// Hands the commit of a processed record to librdkafka and returns at once, before the broker
    /// answers: commits queued one after another reach the broker in that order, so a partition's
    /// offsets never go back, and a caller need not wait a round trip per record. Await
    /// ``KafkaQueuedCommit/acknowledged()`` for the answer.
    ///
    /// - Throws: ``KafkaError`` when librdkafka refuses the commit, or
    ///   ``KafkaError/Code/clientClosed`` when the consumer is not running.
    public func queueCommit(_ message: KafkaConsumerMessage) throws(KafkaError) -> KafkaQueuedCommit {
        guard case .running = lifecycle.withLock({ $0 }) else {
            throw KafkaError.clientClosed("KafkaConsumer.commit(_:) needs a running consumer: call run() first.")
        }
        let commits = client.context.commits
        let id = try commits.reserve()
        do {
            try client.commit(topic: message.topic, partition: message.partition, offset: message.offset + 1, id: id)
        } catch {
            commits.discard(id)
            throw error
        }
        return KafkaQueuedCommit(commits: commits, id: id)
    }
}
