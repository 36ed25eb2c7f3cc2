import BatonCore
import BatonStore
@_exported import BatonTestEnvironment
import Foundation
import Logging
import PostgresNIO

/// A throwaway database with Baton's schema, created for one test (or one suite).
public struct ScratchDatabase: Sendable {
    public let name: String
    public let url: String

    /// Creates `baton_test_<suffix>` and applies the migrations.
    public static func create(migrate: Bool = true) async throws -> ScratchDatabase {
        let base = try DatabaseConfiguration(url: try TestStack.databaseURL())
        let name = "baton_test_\(TestStack.uniqueSuffix())"
        try await withClient(base) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: TestStack.logger)
        }
        var components = URLComponents(string: try TestStack.databaseURL())!
        components.path = "/\(name)"
        let database = ScratchDatabase(name: name, url: components.string!)
        if migrate {
            _ = try await database.withStore { store in try await store.migrate(from: TestStack.migrations) }
        }
        return database
    }

    /// Runs statements as the stack's administrator, connected to the stack's own database (for
    /// `ALTER DATABASE` on this one, or ending its sessions).
    public func administer(_ statements: String...) async throws {
        try await Self.withClient(try DatabaseConfiguration(url: try TestStack.databaseURL())) { client in
            for statement in statements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: TestStack.logger)
            }
        }
    }

    /// Ends every session on this database, so pools reconnect (and pick up `ALTER DATABASE` settings).
    public func terminateSessions() async throws {
        try await administer(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()"
        )
    }

    /// Runs `body` with a store on this database; `statementTimeout` replaces the default one of
    /// its sessions.
    public func withStore<Result: Sendable>(
        topics: EventTopics = EventTopics(), statementTimeout: Duration? = nil,
        _ body: @Sendable (BatonStore) async throws -> Result
    ) async throws -> Result {
        var configuration = try DatabaseConfiguration(url: url)
        if let statementTimeout { configuration.statementTimeout = statementTimeout }
        return try await Self.withClient(configuration) { client in
            try await body(BatonStore(client: client, topics: topics, source: "baton/tests", logger: TestStack.logger))
        }
    }

    static func withClient<Result: Sendable>(
        _ configuration: DatabaseConfiguration, _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        // Pool chatter (a lease asked for a moment before run() started) is noise in test output.
        var poolLogger = TestStack.logger
        poolLogger.logLevel = .error
        let client = PostgresClient(
            configuration: configuration.makeClientConfiguration(), backgroundLogger: poolLogger)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
