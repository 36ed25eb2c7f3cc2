import BatonCore
import BatonEngine
import BatonKafka
import BatonStore
import Foundation
import Logging
import PostgresNIO

/// Helpers that give one-shot commands a running store and a producer.
public enum Runtime {
    /// Runs `body` with a store whose connection pool runs for the body's duration.
    public static func withStore<Result: Sendable>(
        _ options: GlobalOptions, logger: Logger, _ body: @Sendable (BatonStore) async throws -> Result
    ) async throws -> Result {
        let configuration = try DatabaseConfiguration(url: try options.resolvedDatabaseURL())
        // A one-shot command reports failures as thrown errors; the pool's own chatter (such as a
        // lease requested a moment before the pool's run() started) would only clutter the terminal.
        var poolLogger = logger
        poolLogger.logLevel = .error
        let client = PostgresClient(
            configuration: configuration.makeClientConfiguration(), backgroundLogger: poolLogger)
        let store = BatonStore(client: client, topics: options.topics(), source: "baton/cli", logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }

    /// A producer with Baton's settings (idempotent, acks=all).
    ///
    /// - Parameter createsTopics: whether producing to a missing topic lets the broker create it
    ///   with its own defaults. `serve` says no: it creates its topics itself, with their
    ///   partitions and replication, also after a broker lost them.
    public static func makeProducer(_ options: GlobalOptions, logger: Logger, createsTopics: Bool = true) throws
        -> KafkaProducer
    {
        var configuration = KafkaProducerConfiguration(bootstrapServers: try options.resolvedBrokers())
        configuration.extra = try options.resolvedKafkaProperties()
        if !createsTopics { configuration.extra["allow.auto.create.topics"] = "false" }
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    /// Writes one event to the outbox for `serve`'s relay to publish, keyed by `key`: durable
    /// once this returns, even while the broker is away.
    public static func enqueue(_ event: CloudEvent, topic: String, key: String, options: GlobalOptions, logger: Logger)
        async throws
    {
        try await withStore(options, logger: logger) { store in
            try await store.messaging.enqueue(event, topic: topic, key: key)
        }
    }

    /// The migrations folder: `--dir`, `BATON_MIGRATIONS_DIR`, or `./migrations`.
    public static func migrationsDirectory(_ flag: String?) -> URL {
        URL(filePath: flag ?? ProcessInfo.processInfo.environment["BATON_MIGRATIONS_DIR"] ?? "migrations")
    }
}
