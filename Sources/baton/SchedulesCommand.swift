import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

/// `baton schedules`: apply, list, pause, resume and fire schedules (`kind: Schedule`).
struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "Schedules: cron-timed runs of a pipeline, fired by the coordinators once per tick.",
        subcommands: [Apply.self, List.self, Pause.self, Resume.self, Trigger.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a schedule (kind: Schedule) or a new spec of one; its next tick counts from now.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The schedule's YAML file.") var file: String

        func run() async throws {
            options.bootstrapLogging()
            let yaml = try GlobalOptions.readSpecFile(file)
            let applied: (spec: ScheduleSpec, created: Bool)
            do {
                applied = try await Runtime.withStore(options, logger: Logger(label: "baton.schedules")) {
                    try await $0.runs.applySchedule(yaml: yaml)
                }
            } catch let error as SpecError {
                print("\(file): \(error)")
                throw ExitCode(2)
            } catch let error as StoreError where error.code == .notFound {
                print("\(file): \(error.reason)")
                throw ExitCode(2)
            }
            let (spec, created) = applied
            print(
                "schedule \(spec.name) \(created ? "created" : "updated"): \(spec.pipeline) at '\(spec.cron)' (\(spec.timeZone.identifier))"
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Schedules with their next and last tick.")

        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let schedules = try await Runtime.withStore(options, logger: Logger(label: "baton.schedules")) {
                try await $0.runs.schedules()
            }
            if json { return print(try JSONOutput.render(schedules)) }
            if schedules.isEmpty { return print("no schedules") }
            for view in schedules {
                let last =
                    view.lastTick.map { "last \($0.formatted(.iso8601)) \(view.lastOutcome ?? "")" } ?? "never fired"
                print(
                    "\(view.name)\t\(view.pipeline)\t'\(view.cron)' \(view.timeZone)\t\(view.concurrencyPolicy)\t"
                        + "\(view.paused ? "paused" : "next \(view.nextTick?.formatted(.iso8601) ?? "none")")\t\(last)")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hold a schedule's ticks.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The schedule.") var name: String

        func run() async throws { try await setPaused(options, name, true) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release a schedule's ticks; ticks missed while paused are not fired.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The schedule.") var name: String

        func run() async throws { try await setPaused(options, name, false) }
    }

    struct Trigger: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fire a tick now (paused or not), with the schedule's concurrency policy.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The schedule.") var name: String

        func run() async throws {
            options.bootstrapLogging()
            let firing = try await Runtime.withStore(options, logger: Logger(label: "baton.schedules")) {
                try await $0.runs.triggerSchedule(name)
            }
            guard let firing else { throw ValidationError("no schedule named '\(name.prefix(63))'") }
            print(
                "schedule \(firing.schedule): \(firing.outcome)"
                    + (firing.runID.map { " run \($0.lowercased)" } ?? "") + (firing.reason.map { ": \($0)" } ?? ""))
        }
    }

    static func setPaused(_ options: GlobalOptions, _ name: String, _ paused: Bool) async throws {
        options.bootstrapLogging()
        let found = try await Runtime.withStore(options, logger: Logger(label: "baton.schedules")) {
            try await $0.runs.setSchedulePaused(name, paused: paused)
        }
        guard found else { throw ValidationError("no schedule named '\(name.prefix(63))'") }
        print("schedule \(name) \(paused ? "paused" : "resumed")")
    }
}
