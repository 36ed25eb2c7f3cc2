import BatonCore
import BatonKafka
import BatonTestSupport
import Foundation
import Synchronization
import Testing

/// `BATON_LOG_FORMAT=json`: what a log pipeline reads from a real `baton serve`.
@Suite("JSON logs end to end", .serialized, .timeLimit(.minutes(3)))
struct JSONLogsTests {
    @Test("Every line of serve's log parses as JSON, and each attempt's lines carry run_id, stage and attempt")
    func everyLineIsJSON() async throws {
        let fixture = try await EngineFixture(environment: ["BATON_LOG_FORMAT": "json"])
        let serve = try fixture.serve("json-logs")
        let submitted = try await fixture.baton("submit", "examples/korean-llm-noop.yaml", "--wait", "--json")
        #expect(submitted.status == 0, "\(submitted.output)\n\(serve.log.suffix(3000))")
        let runID = try #require(
            (try JSONSerialization.jsonObject(with: Data(submitted.output.utf8)) as? [String: Any])?["run_id"]
                as? String)
        await serve.stop()
        let lines = serve.log.split(separator: "\n")
        #expect(lines.count > 20)
        var records: [[String: Any]] = []
        for line in lines {
            let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(record != nil, "not JSON: \(line.prefix(300))")
            if let record { records.append(record) }
        }
        for record in records {
            #expect(["time", "level", "logger", "message"].allSatisfy { record[$0] is String }, "\(record)")
        }
        let claimed = records.filter { $0["message"] as? String == "attempt claimed" }
        #expect(claimed.count == 8)
        #expect(
            claimed.allSatisfy { $0["run_id"] as? String == runID && $0["stage"] is String && $0["attempt"] != nil })
        #expect(Set(claimed.compactMap { $0["stage"] as? String }).count == 8)
        // The run's trace id (RunTrace: its id's hex) on every record about it.
        let traceID = runID.replacingOccurrences(of: "-", with: "")
        let aboutRun = records.filter { $0["run_id"] as? String == runID }
        #expect(aboutRun.count >= 8 && aboutRun.allSatisfy { $0["trace_id"] as? String == traceID })
        // And on every event of the run on the broker, each with a span of its own.
        let events = try await Self.records(fixture, topic: fixture.topics.runEvents, key: runID)
        #expect(events.count == 18, "run.started, 8 stage.started and stage.succeeded, run.succeeded: \(events.count)")
        let parents = events.compactMap { $0.header("traceparent")?.value.map { String(decoding: $0, as: UTF8.self) } }
        #expect(parents.count == events.count, "every event carries a traceparent")
        #expect(parents.allSatisfy { $0.hasPrefix("00-\(traceID)-") && $0.hasSuffix("-01") && $0.count == 55 })
        #expect(Set(parents).count == parents.count, "one span per event")
    }

    /// The records of `topic` keyed `key`, read from the earliest until none comes for 3 s.
    static func records(_ fixture: EngineFixture, topic: String, key: String) async throws -> [KafkaConsumerMessage] {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: fixture.brokers, groupID: "trace-\(TestStack.uniqueSuffix())", topics: [topic])
        configuration.sessionTimeout = .seconds(6)
        configuration.heartbeatInterval = .seconds(1)
        let consumer = try KafkaConsumer(configuration: configuration, logger: TestStack.logger)
        let received = Received()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await consumer.run() }
            group.addTask {
                for try await message in consumer.messages where message.keyString == key {
                    received.records.withLock { $0.append(message) }
                }
            }
            var seen = -1
            let deadline = ContinuousClock.now + .seconds(40)
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .seconds(3))
                let count = received.records.withLock { $0.count }
                if count > 0, count == seen { break }
                seen = count
            }
            consumer.triggerGracefulShutdown()
            group.cancelAll()
            return received.records.withLock { $0 }
        }
    }

    /// Records read by a consumer's task.
    final class Received: Sendable {
        let records = Mutex<[KafkaConsumerMessage]>([])
    }
}
