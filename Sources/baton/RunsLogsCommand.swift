import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonRay
import BatonStore
import Foundation
import Logging

extension RunsCommand {
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a stage's job log (the Ray driver log), or follow it as the job runs.",
            discussion: """
                The latest attempt's log, or --attempt's. An attempt served from the cache prints the log of the \
                attempt it reused. With --follow, prints the last --tail lines, then what the job prints, until the \
                attempt ends; an attempt that has not started its job yet is waited for.
                """)

        @OptionGroup var options: GlobalOptions
        @OptionGroup var platforms: PlatformOptions
        @Argument(help: "The run id.") var runID: String
        @Argument(help: "The stage.") var stage: String
        @Option(help: "The attempt (default: the latest).") var attempt: Int?
        @Option(help: "How many of the log's last lines to print first (0 to 100000).") var tail = 1000
        @Flag(name: .shortAndLong, help: "Keep printing what the job prints until the attempt ends.") var follow = false

        func validate() throws {
            guard (0...100_000).contains(tail) else { throw ValidationError("--tail must be from 0 to 100000") }
            if let attempt, !(1...1000).contains(attempt) {
                throw ValidationError("--attempt must be from 1 to 1000")
            }
            guard (1...63).contains(stage.utf8.count) else { throw ValidationError("a stage name has 1 to 63 bytes") }
        }

        func run() async throws {
            options.bootstrapLogging()
            let id = try GlobalOptions.runID(runID)
            if let api = try APIRemote.fromEnvironment() {
                try await api.stageLog(id, stage: stage, attempt: attempt, tailLines: tail, follow: follow) {
                    Self.write($0)
                }
                return
            }
            guard let launcher = try platforms.makeRayLauncher() else {
                throw ValidationError("reading job logs needs Ray: set BATON_RAY_ADDRESS (or BATON_API_URL)")
            }
            let source = RayJobLogSource(launcher: launcher)
            try await Runtime.withStore(options, logger: Logger(label: "baton.runs")) { store in
                try await Self.print(source: source, attempts: store.attempts, runID: id, command: self)
            }
        }

        /// Direct mode: the attempt from the database, its log from Ray.
        private static func print(source: RayJobLogSource, attempts: AttemptStore, runID: UUID, command: Logs)
            async throws
        {
            let stage = command.stage
            guard let target = try await attempts.logTarget(runID: runID, stage: stage, attempt: command.attempt) else {
                throw ValidationError(
                    "run \(runID.lowercased) has no \(command.attempt.map { "attempt \($0) of " } ?? "")stage '\(stage)' "
                        + "(yet); `baton runs show` lists its stages")
            }
            guard target.kind == .ray else {
                throw ValidationError(
                    "stage '\(stage)' is a \(target.kind.rawValue) stage: it runs no job and has no log")
            }
            guard target.submissionID != nil || (command.follow && !target.state.isTerminal) else {
                throw ValidationError(
                    "attempt \(target.attempt) of stage '\(stage)' started no Ray job (it is \(target.state.rawValue))")
            }
            let follower = attempts.logFollower(
                of: target, runID: runID, stage: stage, source: source, tailLines: command.tail, follow: command.follow)
            for try await chunk in follower { write(chunk) }
        }

        private static func write(_ text: String) {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
