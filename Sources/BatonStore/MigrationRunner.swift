import BatonCore
import Crypto
import Foundation
import Logging
import PostgresNIO

/// Applies the SQL files of a migrations folder in order, each in one transaction.
///
/// Files are named `NNNN_description.sql`; each applied file is recorded with its SHA-256
/// in `schema_migrations`. A file that changed after it was applied is an error, never
/// silently re-run. An advisory lock keeps two migrators from racing.
public struct MigrationRunner: Sendable {
    /// One migration file.
    public struct Migration: Sendable, Hashable {
        /// The number the file name starts with (`NNNN`).
        public var version: Int
        /// The file name, e.g. `0001_core.sql`.
        public var name: String
        /// The file's SQL.
        public var sql: String
        /// SHA-256 (hex) of the file's SQL, as recorded in `schema_migrations`.
        public var checksum: String
    }

    private static let lockKey: Int64 = 0x6261_746f_6e00  // "baton\0"

    /// The schema this build's SQL needs: the version of the last file in `migrations/` (a
    /// test keeps the two equal). `serve` refuses a database behind it.
    public static let requiredVersion = 21

    /// Throws unless the database of `client` has every migration this build needs.
    ///
    /// - Throws: `StoreError.schemaBehind`, naming both versions and `baton migrate`.
    public static func requireSchema(_ client: PostgresClient, logger: Logger) async throws {
        let applied = try await appliedVersion(client, logger: logger)
        guard applied >= requiredVersion else {
            throw StoreError.schemaBehind(
                "the database has migrations up to \(applied) applied; this baton needs \(requiredVersion): "
                    + "run `baton migrate` (it applies BATON_MIGRATIONS_DIR, default ./migrations) first")
        }
    }

    /// The highest migration applied to the database of `client`; 0 for a database never migrated.
    public static func appliedVersion(_ client: PostgresClient, logger: Logger) async throws -> Int {
        // Two statements: PostgreSQL resolves every table of a statement before running it.
        let exists = try await client.statement("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
        for try await present in exists.decode(Bool.self) where !present { return 0 }
        let rows = try await client.statement("SELECT coalesce(max(version), 0) FROM schema_migrations", logger: logger)
        for try await version in rows.decode(Int.self) { return version }
        return 0
    }

    /// The folder holding the `NNNN_description.sql` files.
    public let directory: URL

    /// A runner of the migrations in `directory`.
    public init(directory: URL) {
        self.directory = directory
    }

    /// The migrations in the folder, in version order.
    ///
    /// - Throws: `StoreError.migrationFailed` for unreadable files, bad names or duplicate versions.
    public func migrations() throws(StoreError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        } catch {
            throw .migrationFailed("cannot read migrations folder \(directory.path): \(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        for name in names.sorted() {
            guard let prefix = name.split(separator: "_").first, let version = Int(prefix) else {
                throw .migrationFailed("migration \(name) must be named NNNN_description.sql")
            }
            guard let sql = try? String(contentsOf: directory.appending(path: name), encoding: .utf8) else {
                throw .migrationFailed("cannot read migration \(name)")
            }
            if migrations.contains(where: { $0.version == version }) {
                throw .migrationFailed("two migrations have version \(version)")
            }
            let checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
            migrations.append(Migration(version: version, name: name, sql: sql, checksum: checksum))
        }
        return migrations
    }

    /// Applies every migration not yet applied.
    ///
    /// - Returns: the names of the migrations applied now.
    /// - Throws: `StoreError.migrationChanged` when an applied file was edited;
    ///   `StoreError.migrationFailed` when a statement fails (that migration is rolled back).
    @discardableResult
    public func migrate(_ client: PostgresClient, logger: Logger) async throws -> [String] {
        let migrations = try migrations()
        return try await client.withSession { connection in
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            try await connection.statement("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await appliedChecksums(connection, logger: logger)
                var appliedNow: [String] = []
                for migration in migrations {
                    if let checksum = applied[migration.version] {
                        guard checksum == migration.checksum else {
                            throw StoreError.migrationChanged(
                                "migration \(migration.name) was edited after it was applied; "
                                    + "add a new migration instead of changing an applied one")
                        }
                        continue
                    }
                    try await apply(migration, connection, logger: logger)
                    appliedNow.append(migration.name)
                }
                try await connection.statement("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return appliedNow
            } catch {
                try? await connection.statement("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    private func appliedChecksums(_ connection: DatabaseSession, logger: Logger) async throws -> [Int: String] {
        var applied: [Int: String] = [:]
        let rows = try await connection.query("SELECT version, checksum FROM schema_migrations", logger: logger)
        for try await (version, checksum) in rows.decode((Int, String).self) { applied[version] = checksum }
        return applied
    }

    private func apply(_ migration: Migration, _ connection: DatabaseSession, logger: Logger) async throws {
        logger.info("applying migration", metadata: [LogKeys.migration: "\(migration.name)"])
        do {
            try await connection.transaction(logger: logger) { connection in
                for statement in SQLScript.statements(migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                    """, logger: logger)
            }
        } catch {
            throw StoreError.migrationFailed(
                "migration \(migration.name) failed and was rolled back: \(describeError(error))")
        }
    }
}
