import ArgumentParser

/// The `baton` command: an event-driven engine for ML training pipelines.
@main
struct Baton: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "Event-driven engine for ML training pipelines (Kafka + PostgreSQL + Ray).",
        subcommands: [
            MigrateCommand.self, ServeCommand.self, RolesCommand.self, MetricsCommand.self, SubmitCommand.self,
            RunsCommand.self,
            PipelinesCommand.self,
            BenchCommand.self, CacheCommand.self,
            LineageCommand.self, ExportCommand.self,
            ModelsCommand.self, SchedulesCommand.self,
            MirrorCommand.self, DeadLetterCommand.self, OutboxCommand.self, TokensCommand.self,
        ])
}
