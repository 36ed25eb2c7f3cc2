import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "The model registry: list models, show versions and aliases, promote and roll back aliases.",
        subcommands: [List.self, Show.self, Promote.self, Rollback.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every registered model, its latest version and aliases.")

        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let models = try await Runtime.withStore(options, logger: Logger(label: "baton.models")) { store in
                try await store.registry.listModels()
            }
            print(json ? try JSONOutput.render(models) : ModelPrinter.list(models))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A model's versions (run, artifact, md5, metrics), aliases and the audit log of alias moves.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The model name.") var name: String
        @Option(help: "How many versions and alias moves, newest first.") var limit = 50
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let model = try ModelsCommand.validModel(name)
            let view = try await Runtime.withStore(options, logger: Logger(label: "baton.models")) { store in
                try await store.registry.model(model, versionLimit: min(max(limit, 1), 10_000))
            }
            guard let view else {
                print("no model \(model)")
                throw ExitCode(1)
            }
            print(json ? try JSONOutput.render(view) : ModelPrinter.text(view))
        }
    }

    /// Who and why, for manual alias moves.
    struct Audit: ParsableArguments {
        @Option(help: "The alias to move.") var alias = "champion"
        @Option(help: "Why (recorded in the audit log and the model.promoted event).") var reason: String
        @Option(help: "Who moves it (default: $USER).") var actor: String?

        func validated() throws -> (alias: String, reason: String, actor: String) {
            guard RegisterSpec.isValidAlias(alias) else {
                throw ValidationError("--alias '\(alias.prefix(64))' must be lower-case letters, digits, '_' or '-'")
            }
            let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !reason.isEmpty, reason.utf8.count <= 1000 else {
                throw ValidationError("--reason must say why, in at most 1000 bytes")
            }
            let actor = try GlobalOptions.actor(actor, "moves the alias")
            return (alias, reason, actor)
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point an alias at a version (audited, with a model.promoted event).")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The model name.") var name: String
        @Argument(help: "The version.") var version: Int
        @OptionGroup var audit: Audit

        func run() async throws {
            options.bootstrapLogging()
            let model = try ModelsCommand.validModel(name)
            let (alias, reason, actor) = try audit.validated()
            let move = try await ModelsCommand.moving(options) { store in
                try await store.registry.promote(model: model, alias: alias, to: version, actor: actor, reason: reason)
            }
            guard let move else {
                print("\(model): \(alias) already points at version \(version); nothing moved")
                return
            }
            print(ModelPrinter.move(move))
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Move an alias back to where it pointed before its last move not yet rolled back (audited); removes it when that move created it."
        )

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The model name.") var name: String
        @OptionGroup var audit: Audit

        func run() async throws {
            options.bootstrapLogging()
            let model = try ModelsCommand.validModel(name)
            let (alias, reason, actor) = try audit.validated()
            let move = try await ModelsCommand.moving(options) { store in
                try await store.registry.rollback(model: model, alias: alias, actor: actor, reason: reason)
            }
            print(ModelPrinter.move(move))
        }
    }

    static func validModel(_ name: String) throws -> String {
        guard RegisterSpec.isValidModelName(name) else {
            throw ValidationError("'\(name.prefix(128))' is not a model name")
        }
        return name
    }

    /// Runs an alias move; a refusal (unknown model or version, nothing to roll back) is printed
    /// as a sentence with exit status 1.
    static func moving<Result: Sendable>(
        _ options: GlobalOptions, _ body: @Sendable (BatonStore) async throws -> Result
    ) async throws -> Result {
        do {
            return try await Runtime.withStore(options, logger: Logger(label: "baton.models"), body)
        } catch let error as StoreError where error.code == .notFound {
            print(error.reason)
            throw ExitCode(1)
        }
    }
}
