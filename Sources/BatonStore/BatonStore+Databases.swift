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
    public func dropDatabase(_ name: SQLIdentifier) async throws {
        try await client.statement(
            PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
    }
}
