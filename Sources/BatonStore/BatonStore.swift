import BatonCore
import Crypto
import Foundation
import Logging
import PostgresNIO

/// Baton's PostgreSQL store: the source of truth for pipelines, runs, stages, attempts, lineage,
/// the model registry, and the outbox and inbox that tie Kafka delivery to database commits.
///
/// It is split by aggregate (``runs``, ``attempts``, ``messaging``, ``lineage``, ``registry``,
/// ``mirror``, ``access``), all over one connection pool; a role takes the aggregates it uses. Every method
/// that changes state runs in one transaction; state moves are conditional UPDATEs, and the
/// schema's triggers refuse illegal ones.
public struct BatonStore: Sendable {
    /// The connection pool, run by whoever made the store (it is a `Service`).
    let client: PostgresClient
    /// Topic names used when writing outbox events.
    public let topics: EventTopics
    /// The CloudEvents `source` of events this process writes.
    public let source: String
    /// Requests, outcomes, planning, pipelines, run queries.
    public let runs: RunStore
    /// Attempts: claims, leases, outcomes, Ray, the cache, the sweeper.
    public let attempts: AttemptStore
    /// The outbox and dead letters.
    public let messaging: MessagingStore
    /// Artifacts, steps and provenance.
    public let lineage: LineageStore
    /// Model versions, aliases, gates, rollouts.
    public let registry: RegistryStore
    /// The MLflow mirror's bookkeeping.
    public let mirror: MirrorStore
    /// API tokens and the audit log.
    public let access: AccessStore
    let database: StoreDatabase

    /// A store over `client`, writing events from `source` to `topics`.
    public init(client: PostgresClient, topics: EventTopics = EventTopics(), source: String, logger: Logger) {
        let database = StoreDatabase(client: client, topics: topics, source: source, logger: logger)
        self.client = client
        self.topics = topics
        self.source = source
        self.database = database
        runs = RunStore(database: database)
        attempts = AttemptStore(database: database)
        messaging = MessagingStore(database: database)
        lineage = LineageStore(database: database)
        registry = RegistryStore(database: database)
        mirror = MirrorStore(database: database)
        access = AccessStore(database: database)
    }

    /// Runs `SELECT 1` (a readiness probe); throws when PostgreSQL does not answer.
    public func ping() async throws {
        try await client.statement("SELECT 1", logger: logger)
    }
}

/// Store functions that belong to no aggregate (migrations, benchmarks) are written on the
/// facade itself, with the same shared helpers.
extension BatonStore: StoreAggregate {}
