import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

@Suite("Migrations (real PostgreSQL)", .serialized, .timeLimit(.minutes(3)))
struct MigrationRunnerTests {
    /// A copy of the repository's migrations in a temporary folder, to edit freely.
    func copyOfMigrations() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appending(
            path: "baton-migrations-\(TestStack.uniqueSuffix())")
        try FileManager.default.copyItem(at: TestStack.migrations, to: folder)
        return folder
    }

    @Test("Migrations apply in order once, and are recorded with a checksum")
    func appliesOnce() async throws {
        let database = try await ScratchDatabase.create(migrate: false)
        let runner = MigrationRunner(directory: TestStack.migrations)
        let names = try runner.migrations().map(\.name)
        try await database.withStore { store in
            #expect(try await runner.migrate(store.client, logger: TestStack.logger) == names)
            #expect(try await runner.migrate(store.client, logger: TestStack.logger).isEmpty)
            let rows = try await store.client.query(
                "SELECT name, length(checksum) FROM schema_migrations ORDER BY version")
            var recorded: [(String, Int)] = []
            for try await row in rows.decode((String, Int).self) { recorded.append(row) }
            #expect(recorded.map(\.0) == names)
            #expect(recorded.allSatisfy { $0.1 == 64 })
        }
    }

    @Test("A build needs the last migration: a database behind it is refused naming `baton migrate`, then passes")
    func requiredSchema() async throws {
        let last = try MigrationRunner(directory: TestStack.migrations).migrations().last?.version
        #expect(last == MigrationRunner.requiredVersion, "requiredVersion follows the last file of migrations/")
        let database = try await ScratchDatabase.create(migrate: false)
        try await database.withStore { store in
            #expect(try await MigrationRunner.appliedVersion(store.client, logger: TestStack.logger) == 0)
            let error = await #expect(throws: StoreError.self) {
                try await MigrationRunner.requireSchema(store.client, logger: TestStack.logger)
            }
            #expect(error?.code == .schemaBehind)
            #expect(
                error?.reason.contains("up to 0 applied") == true && error?.reason.contains("baton migrate") == true)
            try await MigrationRunner(directory: TestStack.migrations).migrate(store.client, logger: TestStack.logger)
            try await MigrationRunner.requireSchema(store.client, logger: TestStack.logger)
        }
    }

    @Test("An applied migration that was edited is an error, and nothing runs")
    func editedMigrationIsAnError() async throws {
        let database = try await ScratchDatabase.create()
        let folder = try copyOfMigrations()
        let first = try #require(try MigrationRunner(directory: folder).migrations().first)
        try (first.sql + "\n-- edited\n").write(
            to: folder.appending(path: first.name), atomically: true, encoding: .utf8)
        try await database.withStore { store in
            let error = await #expect(throws: StoreError.self) {
                try await MigrationRunner(directory: folder).migrate(store.client, logger: TestStack.logger)
            }
            #expect(error?.code == .migrationChanged)
            #expect(error?.reason.contains("\(first.name) was edited after it was applied") == true)
        }
    }

    @Test("A failing migration is rolled back whole and not recorded")
    func failingMigrationRollsBack() async throws {
        let database = try await ScratchDatabase.create()
        let folder = try copyOfMigrations()
        let bad = "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n"
        try bad.write(to: folder.appending(path: "9999_broken.sql"), atomically: true, encoding: .utf8)
        try await database.withStore { store in
            let error = await #expect(throws: StoreError.self) {
                try await MigrationRunner(directory: folder).migrate(store.client, logger: TestStack.logger)
            }
            #expect(error?.code == .migrationFailed)
            #expect(error?.reason.contains("9999_broken.sql failed and was rolled back") == true)
            #expect(error?.reason.contains("no_such_table") == true)
            let rows = try await store.client.query(
                "SELECT to_regclass('half_done') IS NULL, (SELECT count(*) FROM schema_migrations WHERE version = 9999)"
            )
            for try await (absent, recorded) in rows.decode((Bool, Int).self) {
                #expect(absent)
                #expect(recorded == 0)
            }
        }
    }
}
