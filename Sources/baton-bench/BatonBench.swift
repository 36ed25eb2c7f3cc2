import ArgumentParser

/// `baton-bench`: Baton's benchmarks, kept out of the `baton` binary (`baton bench` runs this one).
/// Each prints its figures as JSON; run them on a release build.
@main
struct BatonBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton bench",
        abstract: "Benchmarks that print their figures as JSON (run a release build).",
        subcommands: [BenchRunsCommand.self, BenchLineageCommand.self, BenchAPICommand.self],
        defaultSubcommand: BenchRunsCommand.self)
}
