import BatonCore
import BatonKafka
import Foundation
import Logging
import Synchronization
import Testing

@testable import BatonEngine
@testable import BatonStore

/// The outbox relay's decisions against an in-memory outbox and broker (no server): order per
/// run, what is parked, deferred or retried. The real-PostgreSQL and real-broker behaviour is in
/// `EndToEndTests` and `NeverStallTests`.
@Suite("Outbox relay logic (in-memory outbox and broker)", .timeLimit(.minutes(1)))
struct OutboxRelayLogicTests {
    /// The outbox as `MessagingStore` keeps it: due rows in id order; what the relay reports is
    /// recorded (published, parked with its error, deferred until a later time).
    final class MemoryOutbox: OutboxSource {
        struct Row: Sendable {
            var event: OutboxEvent
            var availableAt = ContinuousClock.now
            var published = false
            var parked: String?
        }
        private let rows: Mutex<[Row]>
        init(_ events: [OutboxEvent]) { rows = Mutex(events.map { Row(event: $0) }) }

        func publishOutbox(
            limit: Int, _ publish: ([OutboxEvent]) async -> OutboxBatchResult
        ) async throws -> OutboxBatchResult {
            let due = rows.withLock { rows in
                rows.filter { !$0.published && $0.parked == nil && $0.availableAt <= .now }.prefix(limit).map(\.event)
            }
            guard !due.isEmpty else { return OutboxBatchResult() }
            var result = await publish(due)
            result.fetched = due.count
            rows.withLock { rows in
                for index in rows.indices {
                    let id = rows[index].event.id
                    if result.published.contains(id) { rows[index].published = true }
                    if let error = result.parked[id] { rows[index].parked = error }
                    if let delay = result.deferred[id] { rows[index].availableAt = .now + delay }
                }
            }
            return result
        }

        func nextOutboxDelay() async throws -> Duration? {
            rows.withLock { rows in
                rows.filter { !$0.published && $0.parked == nil }.map { $0.availableAt - .now }.filter { $0 > .zero }
                    .min()
            }
        }

        func listenForOutboxRows(_ notify: @escaping @Sendable () -> Void) async throws {
            try await Task.sleep(for: .seconds(3600))
        }

        var pending: Int { rows.withLock { $0.filter { !$0.published && $0.parked == nil }.count } }
        var parked: [Int64: String] {
            rows.withLock {
                Dictionary(uniqueKeysWithValues: $0.compactMap { row in row.parked.map { (row.event.id, $0) } })
            }
        }
        func isDeferred(_ id: Int64) -> Bool {
            rows.withLock { rows in rows.contains { $0.event.id == id && !$0.published && $0.availableAt > .now } }
        }
    }

    /// A broker that accepts every record except those the script refuses, and keeps what it
    /// accepted in arrival order.
    final class ScriptedBroker: EventPublisher {
        /// librdkafka's error names, refused this many more times.
        private let state: Mutex<(accepted: [(topic: String, key: String?, id: String)], refusals: [String: [String]])>
        init(refusing refusals: [String: [String]] = [:]) { state = Mutex(([], refusals)) }

        func publish(_ message: KafkaProducerMessage) async throws {
            let id = String(decoding: message.headers.first { $0.key == "ce_id" }?.value ?? [], as: UTF8.self)
            let key = message.key.map { String(decoding: $0, as: UTF8.self) }
            let refusal = state.withLock { state -> String? in
                guard var names = state.refusals[id], !names.isEmpty else {
                    state.accepted.append((message.topic, key, id))
                    return nil
                }
                let name = names.removeFirst()
                state.refusals[id] = names
                return name
            }
            if let refusal {
                throw KafkaError.deliveryFailed("broker refused \(id)", isRetriable: true, underlyingName: refusal)
            }
        }

        /// The event ids accepted for `key`, in the order the broker took them.
        func accepted(key: String) -> [String] { state.withLock { $0.accepted.filter { $0.key == key }.map(\.id) } }
        var acceptedCount: Int { state.withLock { $0.accepted.count } }
    }

    /// An outbox row of run `run`, event `n`: id `n`, event id `run-n`, keyed by the run.
    static func row(_ n: Int64, run: String, bytes: Int = 10, topic: String = "baton.run.events") -> OutboxEvent {
        OutboxEvent(
            id: n, topic: topic, key: run,
            event: CloudEvent(
                id: "\(run)-\(n)", source: "baton/tests", type: "baton.stage.ready",
                data: Array(repeating: UInt8(ascii: "x"), count: bytes)))
    }

    /// Runs the relay until `done` holds (or 20 s pass), then stops it.
    static func relay(
        _ outbox: MemoryOutbox, _ broker: any EventPublisher, maxMessageBytes: Int = 1_000_000,
        passTimeout: Duration = .seconds(60), until done: @escaping @Sendable () -> Bool
    ) async throws {
        var configuration = EngineConfiguration(brokers: ["unused:9092"])
        configuration.relayPassTimeout = passTimeout
        configuration.relayPollInterval = .milliseconds(50)
        configuration.relayBatchSize = 4
        configuration.kafkaProperties["message.max.bytes"] = String(maxMessageBytes)
        var logger = Logger(label: "baton.tests.relay")
        logger.logLevel = .critical
        let relay = OutboxRelay(configuration: configuration, outbox: outbox, publisher: broker, logger: logger)
        try await withThrowingTaskGroup { group in
            group.addTask { try await relay.run() }
            let deadline = ContinuousClock.now + .seconds(20)
            while !done(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            group.cancelAll()
        }
    }

    @Test("Each run's events reach the broker in outbox order, across batches; every row ends published")
    func orderPerRun() async throws {
        // Three runs' events interleaved, more than one batch (of 4).
        let events = (1...15).map { n in Self.row(Int64(n), run: ["a", "b", "c"][n % 3]) }
        let outbox = MemoryOutbox(events)
        let broker = ScriptedBroker()
        try await Self.relay(outbox, broker) { outbox.pending == 0 }
        #expect(outbox.pending == 0)
        #expect(outbox.parked.isEmpty)
        for run in ["a", "b", "c"] {
            let expected = events.filter { $0.key == run }.map(\.event.id)
            #expect(broker.accepted(key: run) == expected, "run \(run)")
        }
    }

    @Test("An event over message.max.bytes is parked with its size; the run's later events still go")
    func oversizeIsParked() async throws {
        let outbox = MemoryOutbox([
            Self.row(1, run: "a"), Self.row(2, run: "a", bytes: 5000), Self.row(3, run: "a"),
        ])
        let broker = ScriptedBroker()
        try await Self.relay(outbox, broker, maxMessageBytes: 2000) { outbox.pending == 0 }
        #expect(broker.accepted(key: "a") == ["a-1", "a-3"])
        let reason = try #require(outbox.parked[2])
        #expect(reason.contains("bytes; the broker accepts at most 2000 (message.max.bytes)"), "\(reason)")
    }

    @Test("A refusal for good parks the event and the run goes on; a transient one is retried in order")
    func refusals() async throws {
        let broker = ScriptedBroker(refusing: [
            "a-1": ["_MSG_TIMED_OUT", "_TRANSPORT"],  // the broker away twice, then back
            "b-2": ["MSG_SIZE_TOO_LARGE"],  // refused for good
        ])
        let outbox = MemoryOutbox([
            Self.row(1, run: "a"), Self.row(2, run: "b"), Self.row(3, run: "a"), Self.row(4, run: "b"),
        ])
        try await Self.relay(outbox, broker) { outbox.pending == 0 }
        // a-3 never overtakes a-1, though a-1 needed three tries.
        #expect(broker.accepted(key: "a") == ["a-1", "a-3"])
        #expect(broker.accepted(key: "b") == ["b-4"])
        #expect(outbox.parked.keys.sorted() == [2])
        #expect(outbox.parked[2]?.contains("MSG_SIZE_TOO_LARGE") == true)
    }

    /// A broker whose first send of one event never answers, not even to cancellation (a send
    /// lost between two producer generations), and which takes every other send.
    final class WedgedOnce: EventPublisher {
        let wedged: String
        let broker = ScriptedBroker()
        private let sent = Mutex(false)
        init(wedging id: String) { wedged = id }

        func publish(_ message: KafkaProducerMessage) async throws {
            let id = String(decoding: message.headers.first { $0.key == "ce_id" }?.value ?? [], as: UTF8.self)
            let first =
                id == wedged
                && sent.withLock { sent in
                    defer { sent = true }
                    return !sent
                }
            if first {
                await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
            }
            try await broker.publish(message)
        }
    }

    @Test("A pass stuck on a send that never answers is left behind after the pass time limit; the next pass publishes")
    func stuckPassIsLeftBehind() async throws {
        let broker = WedgedOnce(wedging: "a-1")
        let outbox = MemoryOutbox([Self.row(1, run: "a"), Self.row(2, run: "b"), Self.row(3, run: "a")])
        try await Self.relay(outbox, broker, passTimeout: .milliseconds(300)) { outbox.pending == 0 }
        #expect(outbox.pending == 0)
        #expect(broker.broker.accepted(key: "a") == ["a-1", "a-3"])
    }

    @Test("A missing topic defers the event (it is not parked) until the topic exists")
    func missingTopicIsDeferred() async throws {
        let broker = ScriptedBroker(refusing: ["a-1": ["UNKNOWN_TOPIC_OR_PART"]])
        let outbox = MemoryOutbox([Self.row(1, run: "a", topic: "baton.stage.gpu")])
        try await Self.relay(outbox, broker) { outbox.isDeferred(1) }
        #expect(outbox.isDeferred(1))
        #expect(outbox.parked.isEmpty)
        #expect(broker.acceptedCount == 0)
        // The relay's deferral (5 s) passes; the topic is there now.
        try await Self.relay(outbox, broker) { outbox.pending == 0 }
        #expect(broker.accepted(key: "a") == ["a-1"])
    }
}
