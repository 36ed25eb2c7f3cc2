import Logging
import Synchronization

// MARK: - KafkaProducer

/// Sends records to Kafka and reports where each one was stored.
///
/// The producer is idempotent with `acks=all`, so a record that ``send(_:)`` reports as
/// delivered is stored exactly once, in order per partition. Delivery reports are served by a
/// dedicated thread, never by Swift's cooperative pool; ``send(_:)`` waits for its report
/// without blocking a thread.
///
/// A fatal librdkafka error (for example an idempotence fault after the brokers lost their
/// data), or a delivery refused because the broker fenced or forgot this producer's id, makes a
/// librdkafka client unusable for good. The producer then rebuilds itself: the
/// next ``send(_:)`` creates a fresh client (a new producer id), so a long-running process
/// recovers without a restart. ``isHealthy`` is `false` between the fault and the rebuild.
///
/// Call ``shutdown(timeout:)`` before dropping the producer: it delivers what is queued, then
/// frees the handle. Dropping it without shutdown abandons queued records.
public final class KafkaProducer: Sendable {
    /// The configuration the producer was created with.
    public let configuration: KafkaProducerConfiguration

    /// One librdkafka client and the thread that serves its delivery reports.
    private struct Generation: Sendable {
        let client: RDKafkaClient
        let pollThread: KafkaPollThread
        let number: Int
    }

    private let properties: KafkaConfigurationProperties
    private let generation: Mutex<Generation>
    private let isShuttingDown = Mutex(false)
    /// Deliveries of the current client that timed out since its last successful one.
    private let timeoutsInARow = Mutex(0)
    private let logger: Logger

    /// Creates a producer and starts its delivery-report thread.
    ///
    /// - Parameters:
    ///   - configuration: The brokers and options.
    ///   - logger: Where the producer and librdkafka log.
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/invalidConfiguration`` or
    ///   ``KafkaError/Code/clientCreationFailed``.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        let properties = try configuration.properties()
        var logger = logger
        logger[metadataKey: KafkaLogMetadataKey.clientID] = "\(configuration.clientID)"
        self.properties = properties
        self.generation = Mutex(
            try Self.makeGeneration(number: 1, properties: properties, configuration: configuration, logger: logger))
        self.configuration = configuration
        self.logger = logger
        logger.debug(
            "Kafka producer created",
            metadata: [KafkaLogMetadataKey.configuration: "\(properties.redactedDescription)"]
        )
    }

    private static func makeGeneration(
        number: Int, properties: KafkaConfigurationProperties, configuration: KafkaProducerConfiguration, logger: Logger
    ) throws -> Generation {
        let client = try RDKafkaClient.make(
            kind: .producer,
            properties: properties,
            context: RDKafkaClientContext(logger: logger)
        )
        let pollInterval = configuration.pollInterval
        let pollThread = KafkaPollThread.start(name: "baton-kafka-producer") { thread in
            while !thread.isStopRequested {
                client.poll(timeout: pollInterval)
            }
            // What is still queued now will never be delivered: fail it rather than hang.
            client.purge()
            client.poll(timeout: .zero)
            client.context.deliveries.failAll(
                .clientClosed("The producer shut down before the record was delivered.")
            )
            client.destroy()
        }
        return Generation(client: client, pollThread: pollThread, number: number)
    }

    deinit {
        generation.withLock { $0.pollThread.requestStop() }
    }

    /// Whether the producer can send now: `false` after a fatal librdkafka error until the next
    /// ``send(_:)`` rebuilt the client, and after shutdown.
    public var isHealthy: Bool {
        !isShuttingDown.withLock { $0 } && generation.withLock { $0.client.context.fatalError.withLock { $0 } } == nil
    }

    /// Rebuilds the client now if a fatal error made it unusable (``send(_:)`` does this too), so
    /// that an idle producer becomes healthy again without waiting for a record.
    ///
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/clientCreationFailed`` when the new client
    ///   cannot be created.
    public func recover() throws {
        _ = try usableGeneration()
    }

    /// The current client, rebuilt first if a fatal error made the current one unusable.
    private func usableGeneration() throws -> Generation {
        try generation.withLock { current in
            guard let fatal = current.client.context.fatalError.withLock({ $0 }) else { return current }
            let next = try Self.makeGeneration(
                number: current.number + 1, properties: properties, configuration: configuration, logger: logger)
            logger.warning(
                "Kafka producer rebuilt after a fatal error",
                metadata: [KafkaLogMetadataKey.error: "\(fatal.reason)", "generation": "\(next.number)"])
            // Records still queued in the broken client fail (clientClosed) and are retried by their senders.
            current.pollThread.requestStop()
            current = next
            return next
        }
    }

    /// How many times the producer rebuilt its client after a fatal error.
    public var rebuilds: Int { generation.withLock { $0.number - 1 } }

    /// Sends a record and waits until the broker acknowledged it.
    ///
    /// The wait is bounded by ``KafkaProducerConfiguration/messageTimeout``; cancelling the
    /// calling task does not withdraw a record that was already handed to librdkafka.
    ///
    /// - Parameter message: The record.
    /// - Returns: Where the record was stored.
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/messageTimedOut`` (brokers unreachable
    ///   for the whole timeout), ``KafkaError/Code/deliveryFailed``,
    ///   ``KafkaError/Code/produceFailed``, ``KafkaError/Code/clientFailed`` when a fatal
    ///   error hit the record in flight (the next send uses a rebuilt client), or
    ///   ``KafkaError/Code/clientClosed`` after shutdown.
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        guard !isShuttingDown.withLock({ $0 }) else {
            throw KafkaError.clientClosed("The producer was shut down; create a new one to send.")
        }
        let client = try usableGeneration().client
        let deliveries = client.context.deliveries
        let id = try deliveries.reserve()
        let deadline = ContinuousClock.now.advanced(by: configuration.messageTimeout)
        while true {
            let outcome: RDKafkaClient.ProduceOutcome
            do {
                outcome = try client.produce(message, id: id)
            } catch {
                deliveries.discard(id)
                throw error
            }
            if case .enqueued = outcome {
                break
            }
            // librdkafka's queue is full: wait for deliveries to make room, within the timeout.
            guard ContinuousClock.now < deadline, !Task.isCancelled else {
                deliveries.discard(id)
                if Task.isCancelled { throw CancellationError() }
                throw KafkaError.produceFailed(
                    "librdkafka's local queue stayed full for \(configuration.messageTimeout); "
                        + "the brokers do not keep up or are unreachable.",
                    isRetriable: true,
                    underlyingName: "_QUEUE_FULL"
                )
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        do {
            let report = try await deliveries.wait(id)
            timeoutsInARow.withLock { $0 = 0 }
            return report
        } catch let error as KafkaError where error.underlyingName.map(Self.identityErrors.contains) == true {
            // The broker no longer knows this producer's id (it lost its state): only a new
            // client, with a new producer id, can send again. Mark this one for a rebuild.
            client.context.fatalError.withLock { $0 = $0 ?? error }
            throw error
        } catch let error as KafkaError where error.code == .messageTimedOut {
            // A broker that came back empty may answer this producer's id with a retriable
            // error until every record times out, without ever reporting it. After
            // ``rebuildAfterTimeouts`` timeouts in a row, a new client (a new producer id) is
            // tried; while the brokers are really away it times out the same way, at no cost.
            let rebuild = timeoutsInARow.withLock { count in
                count += 1
                guard count >= Self.rebuildAfterTimeouts else { return false }
                count = 0
                return true
            }
            if rebuild { client.context.fatalError.withLock { $0 = $0 ?? error } }
            throw error
        }
    }

    /// Delivery timeouts in a row after which the client is rebuilt.
    static let rebuildAfterTimeouts = 2

    /// Delivery errors after which the broker will refuse every record of this producer id:
    /// a broker that lost its data fences, or loses track of, the producers it knew.
    static let identityErrors: Set<String> = [
        "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "UNKNOWN_PRODUCER_ID", "OUT_OF_ORDER_SEQUENCE_NUMBER",
        "INVALID_PRODUCER_ID_MAPPING",
    ]

    /// Waits until every record sent so far was delivered or failed.
    ///
    /// - Parameter timeout: How long to wait at most.
    /// - Throws: ``KafkaError`` with ``KafkaError/Code/timedOut`` when records are still
    ///   outstanding after `timeout`; ``KafkaError/Code/clientClosed`` after shutdown;
    ///   `CancellationError` when the task was cancelled.
    public func flush(timeout: Duration) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let client = generation.withLock { $0.client }
        while true {
            let outstanding = try client.outstandingCount()
            if outstanding == 0 {
                return
            }
            guard ContinuousClock.now < deadline else {
                throw KafkaError.timedOut("\(outstanding) records or requests were still outstanding after \(timeout).")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Delivers what is queued (up to `timeout`), then stops the poll thread and frees the
    /// handle. Records still undelivered then fail with ``KafkaError/Code/clientClosed``.
    ///
    /// Safe to call more than once; later calls wait for the first to finish.
    ///
    /// - Parameter timeout: How long to wait for queued records. Default: `.seconds(30)`.
    public func shutdown(timeout: Duration = .seconds(30)) async {
        let isFirst = isShuttingDown.withLock { isShuttingDown in
            defer { isShuttingDown = true }
            return !isShuttingDown
        }
        let pollThread = generation.withLock { $0.pollThread }
        if isFirst {
            do {
                try await flush(timeout: timeout)
            } catch {
                logger.warning("Kafka producer shutting down with undelivered records: \(error)")
            }
            pollThread.requestStop()
        }
        await pollThread.join()
        if isFirst {
            logger.debug("Kafka producer shut down")
        }
    }
}
