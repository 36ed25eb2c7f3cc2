import BatonCore
import BatonKafka
import BatonStore
import Logging
import PostgresNIO
import ServiceLifecycle

/// The outbox relay role: publishes outbox rows to Kafka, then marks them published.
///
/// It wakes on PostgreSQL `NOTIFY baton_outbox`, on a poll timer (in case a notification is
/// missed) and when the next delayed event (a retry backoff) falls due. Several relays may run:
/// rows are locked with `SKIP LOCKED`.
public struct OutboxRelay: Service {
    private let store: BatonStore
    private let producer: KafkaProducer
    private let configuration: EngineConfiguration
    private let logger: Logger

    public init(configuration: EngineConfiguration, store: BatonStore, producer: KafkaProducer, logger: Logger) {
        self.store = store
        self.producer = producer
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKeys.role] = "relay"
        self.logger = logger
    }

    public func run() async throws {
        let (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await listen(continuation) }
            group.addTask {
                while !Task.isCancelled {
                    continuation.yield()
                    let delay = (try? await store.nextOutboxDelay()) ?? nil
                    let wait = min(delay ?? configuration.relayPollInterval, configuration.relayPollInterval)
                    try? await Task.sleep(for: max(wait, .milliseconds(10)))
                }
                continuation.finish()
            }
            for await _ in wakeups.cancelOnGracefulShutdown() {
                await drain()
            }
            group.cancelAll()
        }
    }

    /// Publishes until the outbox has nothing due.
    private func drain() async {
        while !Task.isCancelled {
            do {
                let count = try await store.publishOutbox(limit: configuration.relayBatchSize) { events in
                    // One key (one run) is sent in outbox order, keys in parallel: a run's events keep
                    // their order, and a batch costs about one round trip per event of its busiest run.
                    try await withThrowingDiscardingTaskGroup { sends in
                        for (_, sameKey) in Dictionary(grouping: events, by: { $0.key ?? "" }) {
                            sends.addTask {
                                for outbox in sameKey {
                                    _ = try await producer.send(
                                        KafkaEvents.message(outbox.event, topic: outbox.topic, key: outbox.key))
                                }
                            }
                        }
                    }
                }
                EngineMetrics.published(count)
                if count < configuration.relayBatchSize { return }
            } catch {
                logger.warning(
                    "outbox publish failed; will retry", metadata: [LogKeys.error: "\(describeError(error))"])
                try? await Task.sleep(for: .seconds(1))
                return
            }
        }
    }

    /// Forwards `NOTIFY baton_outbox` as wake-ups; reconnects when the connection drops.
    private func listen(_ continuation: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    for try await _ in try await connection.listen("baton_outbox") {
                        continuation.yield()
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("outbox listener reconnecting", metadata: [LogKeys.error: "\(describeError(error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
