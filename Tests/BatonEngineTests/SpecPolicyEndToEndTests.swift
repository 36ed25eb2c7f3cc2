import BatonCore
import BatonEngine
import BatonKafka
import BatonStore
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Testing

/// `BATON_SPEC_POLICY` applied by a running `serve`: by the API before it accepts, and by the
/// coordinator to what arrives on Kafka, each refusal naming its rule.
@Suite("Spec policy end to end", .timeLimit(.minutes(5)))
struct SpecPolicyEndToEndTests {
    static let policy = """
        inline_specs: {api_scopes: [admin], kafka: false}
        entrypoint_prefixes: ["python3 stage.py"]
        """

    static func spec(name: String, entrypoint: String) -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: \(name)}
        stages:
          - {name: prep, kind: noop}
          - name: train
            needs: [prep]
            ray: {entrypoint: "\(entrypoint)", resources: {cpus: 0.1}}
        """
    }

    @Test("Inline specs: admins only over the API, never from Kafka; a bad entrypoint is refused by API and by Kafka")
    func applied() async throws {
        let file = FileManager.default.temporaryDirectory.appending(path: "policy-\(TestStack.uniqueSuffix()).yaml")
        try Self.policy.write(to: file, atomically: true, encoding: .utf8)
        let fixture = try await EngineFixture(environment: ["BATON_SPEC_POLICY": file.path])
        let serve = try fixture.serve("spec-policy")
        let submitter = try await APITests.makeToken(fixture, name: "submitter", scopes: "runs:submit,runs:read")
        let admin = try await APITests.makeToken(fixture, name: "policy-admin", scopes: "admin")
        try await APITests.waitForAPI(fixture)
        let client = APIClient(port: fixture.apiPort, token: submitter)
        let bash = Self.spec(name: "bash", entrypoint: "bash -c 'cat /etc/shadow'")

        // The API: a runs:submit token may not send a spec; an admin may, within the rules.
        let refused = try await client.call("createRun", .POST, "/v1/runs", json: APITests.body(APITests.spec))
        #expect(refused.status == 403, "\(refused.text)")
        #expect((refused.object["detail"] as? String)?.hasPrefix("spec policy (inline_specs.api_scopes)") == true)
        let entrypoint = try await client.with(token: admin).call(
            "createRun", .POST, "/v1/runs", json: APITests.body(bash))
        #expect(entrypoint.status == 422, "\(entrypoint.text)")
        #expect(
            (entrypoint.object["detail"] as? String)?.hasPrefix(
                "spec policy (entrypoint_prefixes): stage train: entrypoint 'bash -c 'cat /etc/shadow'' does not start")
                == true)
        let allowed = try await client.with(token: admin).call("createRun", .POST, "/v1/runs", json: APITests.body())
        #expect(allowed.status == 202, "\(allowed.text)")
        let allowedID = try #require((allowed.object["run_id"] as? String).flatMap(UUID.init(uuidString:)))

        // Kafka: a spec produced straight to the topic is rejected with the rule; the same spec
        // through `baton submit` (an operator with the database) runs.
        let producer = try fixture.producer()
        let kafkaRun = UUID()
        let event = try CloudEvent(
            source: "someone", type: .pipelineRequested,
            payload: PipelineRequested(spec: APITests.spec, runId: kafkaRun))
        _ = try await producer.send(
            KafkaProducerMessage(
                topic: fixture.topics.requested, key: kafkaRun.lowercased, value: event.data,
                headers: CloudEventCodec.headers(for: event).map { KafkaHeader(key: $0.key, value: $0.value) }))
        await producer.shutdown()
        let submitted = try await fixture.submit(APITests.spec)
        // The entrypoint rule holds for `baton submit` too: the coordinator rejects it.
        let result = try await BatonProcess.run(
            ["submit", try fixture.specFile(bash), "--wait", "--json"], environment: fixture.environment)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("spec policy (entrypoint_prefixes): stage train"), "\(result.output)")

        let runs = try await fixture.waitForRuns([allowedID, submitted])
        #expect(runs.allSatisfy { $0.state == .succeeded })
        var reason: String?
        try await fixture.waitUntil("the Kafka request is rejected", timeout: .seconds(60)) {
            let status = try await fixture.withStore { store in
                try await store.runs.requestStatus(
                    consumer: EngineConfiguration.coordinatorConsumer, source: event.source, eventID: event.id)
            }
            reason = status?.reason
            return status?.outcome == "rejected"
        }
        #expect(reason?.hasPrefix("spec policy (inline_specs.kafka): a spec sent on Kafka is not run") == true)
        #expect(try await fixture.count("SELECT count(*)::int FROM runs WHERE id = \(kafkaRun)") == 0)
        #expect(try await fixture.count("SELECT count(*)::int FROM runs WHERE pipeline_name = 'bash'") == 0)
        await serve.stop()
    }

    @Test("serve refuses to start with a policy file that has a mistake, and says where")
    func badFile() async throws {
        let file = FileManager.default.temporaryDirectory.appending(path: "policy-\(TestStack.uniqueSuffix()).yaml")
        try "inline_specs: {kafka: maybe}\n".write(to: file, atomically: true, encoding: .utf8)
        let fixture = try await EngineFixture(environment: ["BATON_SPEC_POLICY": file.path])
        let serve = try fixture.serve("bad-policy")
        #expect(await serve.waitForExit(within: .seconds(60)), "serve exits")
        #expect(serve.process.terminationStatus != 0)
        #expect(serve.log.contains("inline_specs.kafka must be true or false"), "\(serve.log)")
    }
}
