import ArgumentParser
import BatonCommandLine
import BatonStore
import Logging

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the SQL migrations that are not applied yet.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Folder of NNNN_name.sql files (env BATON_MIGRATIONS_DIR; default ./migrations).")
    var dir: String?

    func run() async throws {
        options.bootstrapLogging()
        let logger = Logger(label: "baton.migrate")
        let applied = try await Runtime.withStore(options, logger: logger) { store in
            try await store.migrate(from: Runtime.migrationsDirectory(dir))
        }
        print(applied.isEmpty ? "schema is up to date" : "applied: " + applied.joined(separator: ", "))
    }
}
