import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

/// `baton mirror`: the runs and models the MLflow mirror parked because MLflow refused them for
/// good, and queuing them again once the cause is fixed.
struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror", abstract: "Inspect and retry what the MLflow mirror parked.",
        subcommands: [Failed.self, Retry.self])

    struct Failed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the runs and models MLflow refused for good, with MLflow's error.")

        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let parked = try await Runtime.withStore(options, logger: Logger(label: "baton.mirror")) { store in
                try await store.mirror.mlflowMirrorParked()
            }
            if json {
                print(try MirrorCommand.json(parked))
            } else if parked.isEmpty {
                print("nothing is parked: the MLflow mirror took every change it read")
            } else {
                print(parked.map(MirrorCommand.text).joined(separator: "\n"))
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clear the parking of a run (or model, or all) so the mirror tries it again (audited).")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The run id to retry.") var runID: String?
        @Option(help: "A parked registered model to retry instead of a run.") var model: String?
        @Flag(help: "Retry every parked run and model.") var all = false
        @Option(help: "Who asks (default: $USER).") var actor: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            let chosen = [runID != nil, model != nil, all].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("name one RUN_ID, or --model NAME, or --all") }
        }

        func run() async throws {
            options.bootstrapLogging()
            let actor = try GlobalOptions.actor(actor, "asks for the retry")
            let kind: MLflowMirrorParked.Kind?
            let subject: String?
            if let runID {
                (kind, subject) = (.run, try GlobalOptions.runID(runID).lowercased)
            } else if let model {
                (kind, subject) = (.model, try ModelsCommand.validModel(model))
            } else {
                (kind, subject) = (nil, nil)
            }
            let logger = Logger(label: "baton.mirror")
            let cleared = try await Runtime.withStore(options, logger: logger) { store in
                try await store.mirror.retryMLflowMirror(kind, subject: subject, actor: actor)
            }
            for item in cleared {
                logger.notice(
                    "mlflow mirror parking cleared",
                    metadata: [
                        LogKeys.kind: "\(item.kind.rawValue)", LogKeys.subject: "\(item.subject)",
                        LogKeys.actor: "\(actor)",
                    ])
            }
            if json {
                print(try MirrorCommand.json(cleared))
                return
            }
            guard !cleared.isEmpty else {
                print(subject.map { "\($0) is not parked; nothing to retry" } ?? "nothing is parked; nothing to retry")
                throw ExitCode(subject == nil ? 0 : 1)
            }
            for item in cleared {
                print("\(item.kind.rawValue) \(item.subject): queued again for the MLflow mirror (by \(actor))")
            }
        }
    }

    static func text(_ item: MLflowMirrorParked) -> String {
        let when = item.failedAt.formatted(.iso8601)
        return "\(item.kind.rawValue) \(item.subject)  parked \(when): \(item.error)"
    }

    static func json(_ items: [MLflowMirrorParked]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(items), as: UTF8.self)
    }
}
