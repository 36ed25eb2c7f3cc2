import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List, show, cancel and retry runs; print their stages' logs.",
        subcommands: [List.self, Show.self, Cancel.self, Retry.self, Logs.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The most recent runs, newest first.")

        @OptionGroup var options: GlobalOptions
        @Option(help: "How many runs.") var limit = 20
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let runs: [RunSummary]
            if let api = try APIRemote.fromEnvironment() {
                runs = try await api.runs(limit: limit)
            } else {
                runs = try await Runtime.withStore(options, logger: Logger(label: "baton.runs")) { store in
                    try await store.runs.listRuns(limit: min(max(limit, 1), 1000))
                }
            }
            if json {
                print(try JSONOutput.render(runs))
            } else {
                print(RunPrinter.table(runs))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run's stages, states, attempts and durations.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The run id.") var runID: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let id = try GlobalOptions.runID(runID)
            let view: RunView?
            if let api = try APIRemote.fromEnvironment() {
                switch try await api.run(id) {
                case .run(let run)?: view = run
                case .requested(let requested)?:
                    print(json ? try JSONOutput.render(requested) : "run \(id.lowercased): \(requested.state)")
                    return
                case nil: view = nil
                }
            } else {
                view = try await Runtime.withStore(options, logger: Logger(label: "baton.runs")) { store in
                    try await store.runs.run(id)
                }
            }
            guard let view else {
                print("no run \(id.lowercased)")
                throw ExitCode(1)
            }
            print(json ? try JSONOutput.render(view) : RunPrinter.text(view))
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a run: produce run.cancel; running stages are stopped and fenced out.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The run id.") var runID: String
        @Option(help: "Why (recorded on the run).") var reason: String?

        func run() async throws {
            options.bootstrapLogging()
            let id = try GlobalOptions.runID(runID)
            if let api = try APIRemote.fromEnvironment() {
                try await api.cancel(id, reason: reason.map { String($0.prefix(1000)) })
                print("cancel requested for \(id.lowercased)")
                return
            }
            let cancel = RunCancel(
                runId: id, reason: reason.map { String($0.prefix(1000)) },
                requestedBy: GlobalOptions.environment["USER"] ?? "cli")
            let event = try CloudEvent(
                source: "baton/cli", type: .runCancel, subject: "run/\(id.lowercased)", payload: cancel)
            try await Runtime.enqueue(
                event, topic: options.topics().runEvents, key: id.lowercased, options: options,
                logger: Logger(label: "baton.runs"))
            print("cancel requested for \(id.lowercased)")
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-run an ended run from a stage: the stages upstream of it reuse the run's outputs.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The run id.") var runID: String
        @Option(help: "The stage to re-run; it and everything downstream of it run again.") var from: String
        @Flag(help: "Wait for the new run to end; exit 0 only if it succeeded.") var wait = false
        @Flag(help: "Print one JSON object with run_id and state.") var json = false
        @Option(help: "With --wait, give up after this many seconds.") var timeout: Double = 3600

        func run() async throws {
            options.bootstrapLogging()
            let id = try GlobalOptions.runID(runID)
            let request = PipelineRequested(
                runId: UUID(), requestedBy: GlobalOptions.environment["USER"] ?? "cli", retryOf: id,
                retryFrom: from)
            if let api = try APIRemote.fromEnvironment() {
                try await SubmitCommand.send(request, through: api, wait: wait, json: json, timeout: timeout)
                return
            }
            try await SubmitCommand.send(request, wait: wait, json: json, timeout: timeout, options: options)
        }
    }
}
