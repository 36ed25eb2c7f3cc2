import BatonCore
import Foundation
import PostgresNIO

extension BatonStore {
    /// Applies the migrations in `directory` that this database has not applied yet.
    ///
    /// - Returns: the applied migrations' names, in order; empty when the schema is up to date.
    /// - Throws: `StoreError` (`.migrationFailed`, `.migrationChanged`) as ``MigrationRunner`` does.
    public func migrate(from directory: URL) async throws -> [String] {
        try await MigrationRunner(directory: directory).migrate(client, logger: logger)
    }

    /// Throws `StoreError.schemaBehind` unless this database has every migration this build
    /// needs (``MigrationRunner/requiredVersion``).
    public func requireSchema() async throws {
        try await MigrationRunner.requireSchema(client, logger: logger)
    }

    /// Creates the database `name` on this server (the role needs `CREATEDB`).
    public func createDatabase(_ name: SQLIdentifier) async throws {
        // CREATE DATABASE takes no bind parameters; SQLIdentifier holds only [a-z0-9_].
        try await client.statement(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
    }

    /// Drops the database `name` if it exists, ending its sessions first.
    ///
    /// PostgreSQL 15 refuses `WITH (FORCE)` while an autovacuum worker is in the database (as a
    /// session of a role this one may not end: SQLSTATE 42501). The worker ends within seconds,
    /// so that refusal is tried again, every 0.5 s for 15 s, before it is thrown.
    public func dropDatabase(_ name: SQLIdentifier) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            do {
                try await client.statement(
                    PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
                return
            } catch let error as PSQLError
                where error.serverInfo?[.sqlState] == "42501" && ContinuousClock.now < deadline
            {
                logger.debug(
                    "a session of another role (autovacuum) holds the database; dropping it again",
                    metadata: [LogKeys.error: "\(describeError(error))"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
