import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Inspect the content-addressed stage cache.", subcommands: [Explain.self])

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Why a stage of a run was, or was not, served from the cache, and which ingredient changed.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The run id.") var runID: String
        @Argument(help: "The stage.") var stage: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let id = try GlobalOptions.runID(runID)
            let presence = options.artifactPresence()
            let explanation = try await Runtime.withStore(options, logger: Logger(label: "baton.cache")) {
                store -> CacheExplanation? in
                guard var explanation = try await store.attempts.explainCache(runID: id, stage: stage) else {
                    return nil
                }
                if let source = try await store.attempts.reusableAttempt(
                    explanation.cachedFrom ?? explanation.attemptID)
                {
                    explanation.outputsNow =
                        await presence.firstMissing(source.outputs).map { "missing: \($0)" }
                        ?? "all \(source.outputs.count) present as recorded"
                }
                return explanation
            }
            guard let explanation else {
                print("run \(id.lowercased) has no attempt of a stage '\(stage.prefix(64))'")
                throw ExitCode(1)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(explanation), as: UTF8.self))
            } else {
                print(Self.text(explanation))
            }
        }

        static func text(_ explanation: CacheExplanation) -> String {
            var lines = [
                "stage \(explanation.stage), attempt \(explanation.attempt) (\(explanation.attemptID.lowercased)): "
                    + explanation.state.rawValue,
                explanation.decision ?? "no cache decision recorded (the stage is not a ray stage, or never launched)",
            ]
            if let fingerprint = explanation.fingerprint { lines.append("fingerprint \(fingerprint)") }
            if let compared = explanation.comparedAttemptID, let run = explanation.comparedRunID {
                lines.append("compared with attempt \(compared.lowercased) of run \(run.lowercased):")
                lines +=
                    explanation.differences.isEmpty
                    ? ["  same ingredients"] : explanation.differences.map { "  \($0)" }
            } else if explanation.cachedFrom == nil, explanation.fingerprint != nil {
                lines.append("no other succeeded attempt of this pipeline stage to compare with")
            }
            if let now = explanation.outputsNow { lines.append("outputs now: \(now)") }
            return lines.joined(separator: "\n")
        }
    }
}
