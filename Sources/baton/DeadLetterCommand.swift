import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonEngine
import BatonKafka
import BatonStore
import Foundation
import Logging

/// `baton dlq`: the messages no consumer could handle, and what an operator does about them.
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show, replay or discard dead letters (messages no consumer could handle).",
        subcommands: [List.self, Show.self, Replay.self, Discard.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dead letters, newest first.")

        @OptionGroup var options: GlobalOptions
        @Option(help: "Most dead letters to list.") var limit = 50
        @Flag(help: "Include discarded dead letters.") var all = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let letters = try await Runtime.withStore(options, logger: Logger(label: "baton.dlq")) { store in
                try await store.messaging.deadLetters(limit: max(1, min(limit, 10_000)), includeDiscarded: all)
            }
            if json { return print(try JSONOutput.render(letters)) }
            if letters.isEmpty { return print("no dead letters") }
            for letter in letters {
                let status =
                    letter.discardedAt != nil
                    ? "discarded" : letter.replays > 0 ? "replayed ×\(letter.replays)" : "open"
                print(
                    "\(letter.id)\t\(letter.topic)[\(letter.partition)]@\(letter.offset)\t\(status)\t"
                        + "\(letter.payloadSize) B\t\(letter.error.prefix(120))")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One dead letter: origin, error, headers, payload.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The dead letter's id (from `baton dlq list`).") var id: Int64
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let letter = try await Runtime.withStore(options, logger: Logger(label: "baton.dlq")) { store in
                try await store.messaging.deadLetter(id)
            }
            guard let letter else { throw ValidationError("no dead letter \(id)") }
            if json { return print(try JSONOutput.render(letter)) }
            print("dead letter \(letter.id) from \(letter.topic)[\(letter.partition)]@\(letter.offset)")
            print("consumer: \(letter.consumer), attempts: \(letter.attempts), at \(letter.createdAt)")
            if let eventID = letter.eventID { print("event id: \(eventID)") }
            print("error: \(letter.error)")
            print("payload: \(letter.payloadSize) bytes, sha256 \(letter.payloadSHA256)")
            for (key, value) in (letter.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
                print("header \(key): \(value.prefix(200))")
            }
            if letter.replays > 0 {
                print("replayed \(letter.replays) time(s), last at \(letter.replayedAt.map { "\($0)" } ?? "?")")
            }
            if let discarded = letter.discardedAt { print("discarded at \(discarded)") }
            print("---\n\(letter.payloadPreview ?? "")")
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Produce a dead letter's original record again, to its original topic.",
            discussion: """
                The record keeps its key, payload and headers and gains a baton.replayed_from header. A request \
                with a ce_id (or an idempotency key) is deduplicated by the coordinator's inbox, and a bare request \
                takes its id from that header, so replaying one dead letter twice makes at most one run.
                """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The ids of the dead letters to replay.") var ids: [Int64]
        @Option(help: "Who replays (default: $USER); recorded with the replay.") var actor: String?

        func run() async throws {
            options.bootstrapLogging()
            let actor = try GlobalOptions.actor(actor, "acts")
            let logger = Logger(label: "baton.dlq")
            let producer = try Runtime.makeProducer(options, logger: logger)
            do {
                try await Runtime.withStore(options, logger: logger) { store in
                    let replayer = DeadLetterReplayer(messaging: store.messaging, producer: producer)
                    for id in ids {
                        print("replayed dead letter \(id) to \(try await replayer.replay(id, actor: actor))")
                    }
                }
            } catch {
                await producer.shutdown()
                throw error
            }
            await producer.shutdown()
        }

    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mark dead letters handled; they stay stored but leave `baton dlq list`.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The ids of the dead letters to discard.") var ids: [Int64]
        @Option(help: "Why (recorded with the action).") var reason: String?
        @Option(help: "Who discards (default: $USER); recorded with the action.") var actor: String?

        func run() async throws {
            options.bootstrapLogging()
            let actor = try GlobalOptions.actor(actor, "acts")
            let reason = reason.map { String($0.prefix(1000)) }
            try await Runtime.withStore(options, logger: Logger(label: "baton.dlq")) { store in
                for id in ids {
                    let discarded = try await store.messaging.discardDeadLetter(id, actor: actor, reason: reason)
                    print(discarded ? "discarded dead letter \(id)" : "no open dead letter \(id)")
                }
            }
        }
    }
}
