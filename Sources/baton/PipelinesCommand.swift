import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

struct PipelinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipelines", abstract: "Store and list versioned pipeline specs.",
        subcommands: [Apply.self, List.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Validate a spec and store it as the pipeline's next version (unchanged specs keep their version).")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The spec file.") var file: String

        func run() async throws {
            options.bootstrapLogging()
            let yaml = try GlobalOptions.readSpecFile(file)
            do {
                _ = try PipelineSpecParser.parse(yaml)
            } catch {
                print("\(file): \(error)")
                throw ExitCode(2)
            }
            let (version, isNew) = try await Runtime.withStore(options, logger: Logger(label: "baton.pipelines")) {
                try await $0.runs.applyPipeline(yaml: yaml)
            }
            print("\(version.name) v\(version.version) \(isNew ? "applied" : "unchanged")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The latest version of each pipeline.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            options.bootstrapLogging()
            let pipelines = try await Runtime.withStore(options, logger: Logger(label: "baton.pipelines")) {
                try await $0.runs.listPipelines()
            }
            for pipeline in pipelines {
                print("\(pipeline.name)\tv\(pipeline.version)\t\(pipeline.createdAt.formatted(.iso8601))")
            }
        }
    }
}
