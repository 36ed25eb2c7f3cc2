import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

/// `baton outbox`: outbox events the broker refused for good, parked so they block nothing.
struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox", abstract: "Show and retry parked outbox events (events the broker refused for good).",
        subcommands: [Failed.self, Retry.self])

    struct Failed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parked outbox events with their errors, oldest first.")

        @OptionGroup var options: GlobalOptions
        @Option(help: "Most events to list.") var limit = 100
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let events = try await Runtime.withStore(options, logger: Logger(label: "baton.outbox")) { store in
                try await store.messaging.parkedOutboxEvents(limit: max(1, min(limit, 10_000)))
            }
            if json { return print(try JSONOutput.render(events)) }
            if events.isEmpty { return print("no parked outbox events") }
            for event in events {
                print(
                    "\(event.id)\t\(event.eventType)\t\(event.topic)\tkey \(event.key ?? "-")\t\(event.payloadBytes) B\t"
                        + event.error.prefix(160))
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Un-park outbox events so the relay publishes them again (after fixing the cause).")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The ids of the events (from `baton outbox failed`).") var ids: [Int64] = []
        @Flag(help: "Every parked event.") var all = false
        @Option(help: "Who retries (default: $USER); logged with the action.") var actor: String?

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError("give event ids or --all, not both or neither") }
        }

        func run() async throws {
            options.bootstrapLogging()
            let actor = try GlobalOptions.actor(actor, "retries")
            let logger = Logger(label: "baton.outbox")
            let count = try await Runtime.withStore(options, logger: logger) { store in
                try await store.messaging.retryParkedOutboxEvents(ids: all ? nil : ids)
            }
            logger.notice(
                "parked outbox events retried", metadata: [LogKeys.actor: "\(actor)", LogKeys.count: "\(count)"])
            print("un-parked \(count) outbox event(s)")
        }
    }
}
