import BatonCore
import BatonKafka
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The engine end to end: `baton serve` as a process, the real broker and the real database.
@Suite("Engine end to end", .serialized, .timeLimit(.minutes(5)))
struct EndToEndTests {
    struct RunJSON: Decodable {
        struct Stage: Decodable {
            var name: String
            var state: String
            var attempts: Int
        }

        var runID: String
        var state: String
        var stages: [Stage]?

        enum CodingKeys: String, CodingKey {
            case state, stages
            case runID = "run_id"
        }
    }

    @Test("korean-llm-noop: submit --wait succeeds with all eight stages through Kafka and PostgreSQL")
    func referencePipeline() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("reference")
        let submitted = try await fixture.baton("submit", "examples/korean-llm-noop.yaml", "--wait", "--json")
        #expect(submitted.status == 0, "\(submitted.output)\n\(serve.log.suffix(3000))")
        let result = try JSONDecoder().decode(RunJSON.self, from: Data(submitted.output.utf8))
        #expect(result.state == "succeeded")
        let shown = try await fixture.baton("runs", "show", result.runID, "--json")
        #expect(shown.status == 0)
        let run = try JSONDecoder().decode(RunJSON.self, from: Data(shown.output.utf8))
        #expect(run.runID == result.runID)
        #expect(
            run.stages?.map(\.name) == ["preprocess", "cpt", "sft", "rlhf", "evaluate", "gate", "register", "rollout"])
        #expect(run.stages?.allSatisfy { $0.state == "succeeded" && $0.attempts == 1 } == true)
        let listed = try await fixture.baton("runs", "list")
        #expect(listed.output.contains(result.runID))
        // Operators see the same through Prometheus and the probes.
        let metrics = try await fixture.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains(#"baton_stage_attempts_total{state="succeeded"} 8"#))
        let requests = #"baton_events_handled_total{consumer="coordinator",type="pipeline.requested"} 1"#
        #expect(metrics.body.contains(requests))
        #expect(try await fixture.get("/readyz").status == 200)
        #expect(try await fixture.get("/healthz").body == "ok\n")
        await serve.stop()
    }

    @Test("The same pipeline.requested twice (same ce_id) and a bare-JSON request twice (same key) each make one run")
    func duplicateDeliveries() async throws {
        let fixture = try await EngineFixture()
        let spec = try String(
            contentsOf: TestStack.repositoryRoot.appending(path: "examples/korean-llm-noop.yaml"), encoding: .utf8)
        let producer = try fixture.producer()
        let runID = UUID()
        let event = try CloudEvent(
            id: "fixed-event-id", source: "test", type: .pipelineRequested,
            payload: PipelineRequested(spec: spec, runId: runID))
        let record = KafkaProducerMessage(
            topic: fixture.topics.requested, key: runID.lowercased, value: event.data,
            headers: CloudEventCodec.headers(for: event).map { KafkaHeader(key: $0.key, value: $0.value) })
        _ = try await producer.send(record)
        _ = try await producer.send(record)
        let bare = try CloudEvent.encode(PipelineRequested(spec: spec, idempotencyKey: "nightly-2026-11-29"))
        for _ in 0..<2 {
            _ = try await producer.send(KafkaProducerMessage(topic: fixture.topics.requested, key: nil, value: bare))
        }
        await producer.shutdown()

        let serve = try fixture.serve("duplicates")
        let views = try await fixture.waitForRuns([runID])
        #expect(views.first?.state == .succeeded)
        // Give the second bare request time to be handled, then count.
        try await Task.sleep(for: .seconds(2))
        #expect(
            try await fixture.count("SELECT count(*)::int FROM runs WHERE request_event_id = 'test fixed-event-id'")
                == 1)
        #expect(
            try await fixture.count("SELECT count(*)::int FROM runs WHERE idempotency_key = 'nightly-2026-11-29'") == 1)
        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 2)
        #expect(serve.log.contains("duplicate request ignored"))
        // Both copies of each request reached the coordinator; the inbox kept one of each.
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM inbox WHERE consumer = 'coordinator' AND event_type = 'pipeline.requested'")
                == 2)
        await serve.stop()
    }

    @Test("Malformed input becomes run.rejected or a dead letter, and other runs carry on")
    func malformedInput() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("malformed")
        let producer = try fixture.producer()
        let poison = try await producer.send(
            KafkaProducerMessage(topic: fixture.topics.requested, key: "junk", value: Array("this is not JSON".utf8)))
        await producer.shutdown()

        let badYAML = try fixture.specFile("apiVersion: baton/v1\nstages: [unclosed")
        let cycle = try fixture.specFile(
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: loop}
            stages:
              - {name: a, kind: noop, needs: [b]}
              - {name: b, kind: noop, needs: [a]}
            """)
        let unknownStage = try fixture.specFile(
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: typo}
            stages:
              - {name: a, kind: noop}
              - {name: b, kind: noop, needs: [aa]}
            """)
        let expectations: [([String], String)] = [
            ([badYAML], "not valid YAML"),
            ([cycle], "cycle: a -> b -> a"),
            ([unknownStage], "unknown stage 'aa'"),
            (["examples/korean-llm-noop.yaml", "--param", "epochs=3"], "unknown param 'epochs'"),
            (["no-such-pipeline"], "unknown pipeline"),
        ]
        for (arguments, reason) in expectations {
            let result = try await BatonProcess.run(
                ["submit"] + arguments + ["--wait", "--json"], environment: fixture.environment)
            #expect(result.status == 2, "\(arguments): \(result.output)")
            #expect(result.output.contains("\"state\":\"rejected\""))
            #expect(result.output.contains(reason), "\(result.output)")
        }
        let good = try await fixture.baton("submit", "examples/korean-llm-noop.yaml", "--wait", "--json")
        #expect(good.status == 0, "\(good.output)")

        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 1)
        // `baton submit` refuses these itself, before producing: nothing reached the coordinator.
        #expect(try await fixture.count("SELECT count(*)::int FROM outbox WHERE event_type = 'run.rejected'") == 0)
        let deadLetters = try await fixture.withStore { store in
            var letters: [(String, Int, Int64, String, Int)] = []
            let rows = try await store.client.query(
                #"SELECT topic, partition, "offset", error, attempts FROM dead_letters"#)
            for try await row in rows.decode((String, Int, Int64, String, Int).self) { letters.append(row) }
            return letters
        }
        #expect(deadLetters.count == 1)
        #expect(deadLetters.first?.0 == fixture.topics.requested)
        #expect(deadLetters.first?.1 == Int(poison.partition))
        #expect(deadLetters.first?.2 == poison.offset)
        #expect(deadLetters.first?.3 == "event body is not JSON")
        #expect(deadLetters.first?.4 == 1)
        // The dead-letter topic carries the original bytes and where they came from.
        let letter = try #require(try await fixture.firstRecord(on: fixture.topics.deadLetters))
        #expect(letter.value == Array("this is not JSON".utf8))
        #expect(letter.header("baton_dlq_topic")?.stringValue == fixture.topics.requested)
        #expect(letter.header("baton_dlq_partition")?.stringValue == String(poison.partition))
        #expect(letter.header("baton_dlq_offset")?.stringValue == String(poison.offset))
        #expect(letter.header("baton_dlq_error")?.stringValue == "event body is not JSON")
        #expect(letter.header("baton_dlq_attempts")?.stringValue == "1")
        await serve.stop()
    }
}
