import BatonCore
import BatonEngine
import BatonKafka
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Testing

@testable import BatonStore

/// Every message, outbox row and fault reaches an end, and nothing is lost: hostile input, a
/// database that turns read-only or goes away, a broker that loses all its data, and dead letters
/// replayed after the cause was fixed.
@Suite("Never stall", .serialized, .timeLimit(.minutes(6)))
struct NeverStallTests {
    static let goodSpec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: steady}
        defaults: {pool: default, timeout: 2m}
        stages:
          - {name: first, kind: noop}
          - {name: second, kind: noop, needs: [first]}
        """

    static let slowSpec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: slow}
        defaults: {pool: default, timeout: 2m}
        stages:
          - {name: a, kind: noop, noop: {sleep: 400ms}}
          - {name: b, kind: noop, needs: [a], noop: {sleep: 400ms}}
          - {name: c, kind: noop, needs: [b], noop: {sleep: 400ms}}
          - {name: d, kind: noop, needs: [c], noop: {sleep: 400ms}}
          - {name: e, kind: noop, needs: [d], noop: {sleep: 400ms}}
          - {name: f, kind: noop, needs: [e], noop: {sleep: 400ms}}
        """

    /// A bare JSON request, as any Kafka client would write it.
    static func bare(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object))
    }

    @Test(
        "Hostile records end as run.rejected, a dead letter or a failed run while 300 good requests all succeed"
    )
    func hostileInput() async throws {
        let fixture = try await EngineFixture(environment: [
            "BATON_QUEUE_TIMEOUT_SECONDS": "3", "BATON_WORKER_HEARTBEAT_SECONDS": "1",
        ])
        let serve = try fixture.serve("hostile")
        var configuration = KafkaProducerConfiguration(bootstrapServers: fixture.brokers)
        configuration.messageTimeout = .seconds(20)
        configuration.extra = ["message.max.bytes": "4000000"]
        let producer = try KafkaProducer(configuration: configuration, logger: TestStack.logger)
        let topic = fixture.topics.requested
        func send(_ key: String, _ value: [UInt8], headers: [KafkaHeader] = []) async throws {
            _ = try await producer.send(
                KafkaProducerMessage(topic: topic, key: Array(key.utf8), value: value, headers: headers))
        }
        let nanSpec = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: nan}
            params: {limit: {type: number, default: .nan}}
            stages: [{name: a, kind: noop}]
            """
        var bomb = "apiVersion: baton/v1\nkind: Pipeline\nmetadata: {name: bomb}\n"
        bomb += "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1..<9 {
            let previous = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            bomb += "x\(level): &a\(level) [\(previous)]\n"
        }
        bomb += "params: {p: {type: string, default: *a8}}\nstages: [{name: a, kind: noop}]\n"
        var problems =
            "apiVersion: baton/v1\nkind: Pipeline\nmetadata: {name: noisy}\nstages:\n  - name: a\n    kind: noop\n"
        for index in 0..<5000 { problems += "    unknown\(index): 1\n" }
        let unknownPool = Self.goodSpec.replacingOccurrences(of: "pool: default", with: "pool: nosuchpool")
            .replacingOccurrences(of: "name: steady", with: "name: unserved")

        try await send("nan", try Self.bare(["spec": nanSpec, "idempotency_key": "hostile-nan"]))
        try await send("big", Array(repeating: UInt8(ascii: "x"), count: 2 * 1024 * 1024))
        try await send(
            "nul", Array("{}".utf8),
            headers: [
                KafkaHeader(key: "ce_type", value: Array("pipeline.requested\u{0}x".utf8)),
                KafkaHeader(key: "ce_id", value: "nul-header"), KafkaHeader(key: "ce_specversion", value: "1.0"),
            ])
        try await send("bomb", try Self.bare(["spec": bomb, "idempotency_key": "hostile-bomb"]))
        try await send("noisy", try Self.bare(["spec": problems, "idempotency_key": "hostile-noisy"]))
        let longName = String(repeating: "n", count: 1_000_000)
        try await send("long", try Self.bare(["pipeline": longName, "idempotency_key": "hostile-long"]))
        try await send("pool", try Self.bare(["spec": unknownPool, "idempotency_key": "hostile-pool"]))
        let hostileCount = 7
        for index in 0..<300 {
            try await send("good-\(index)", try Self.bare(["spec": Self.goodSpec, "idempotency_key": "good-\(index)"]))
        }
        await producer.shutdown()

        let started = ContinuousClock.now
        try await fixture.waitUntil("300 good runs succeeded", timeout: .seconds(240)) {
            try await fixture.count(
                "SELECT count(*)::int FROM runs WHERE idempotency_key LIKE 'good-%' AND state = 'succeeded'") == 300
        }
        try await fixture.waitUntil("the run in an unserved pool failed", timeout: .seconds(60)) {
            try await fixture.count(
                """
                SELECT count(*)::int FROM runs WHERE idempotency_key = 'hostile-pool' AND state = 'failed'
                  AND reason LIKE '%no worker for pool nosuchpool%'
                """) == 1
        }
        // 45 s on an idle 2-core machine; `make test` runs other suites beside this one.
        let elapsed = ContinuousClock.now - started
        print("never stall: 7 hostile and 300 good requests ended in \(elapsed)")
        #expect(elapsed < .seconds(180), "every message ended in bounded time")
        // Each hostile request was rejected with a readable, bounded reason...
        for (key, reason) in [
            ("hostile-nan", "finite"), ("hostile-bomb", "alias"), ("hostile-noisy", "more"),
            ("hostile-long", "pipeline"),
        ] {
            let rejected = try await fixture.count(
                """
                SELECT count(*)::int FROM inbox WHERE event_id = \("bare-json idem:\(key)") AND outcome = 'rejected'
                  AND length(reason) <= 4096 AND reason ILIKE \("%\(reason)%")
                """)
            #expect(rejected == 1, "\(key) should be rejected naming '\(reason)'")
        }
        // ...or dead-lettered, stored safely (the NUL escaped) with the original's size.
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM dead_letters WHERE payload_size = \(2 * 1024 * 1024) AND length(payload) <= \(CloudEventCodec.maxEventBytes)"
            )
                == 1)
        #expect(
            try await fixture.count(
                #"SELECT count(*)::int FROM dead_letters WHERE headers->>'ce_type' = 'pipeline.requested\u{00}x'"#)
                == 1)
        // Every record on the requests topic ended: in the inbox or among the dead letters.
        let ended = try await fixture.count(
            """
            SELECT (SELECT count(*) FROM inbox WHERE consumer = 'coordinator' AND event_type = 'pipeline.requested')
                 + (SELECT count(*) FROM dead_letters WHERE topic = \(topic))
            """)
        #expect(ended == 300 + hostileCount)
        #expect(try await fixture.count("SELECT count(*)::int FROM runs WHERE state = 'running'") == 0)
        await serve.stop()
    }

    @Test("A database that is read-only for 20 s, then refuses connections for 25 s: no dead letters, 20 runs succeed")
    func databaseOutage() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("outage")
        let producer = try fixture.producer()
        let database = fixture.database
        try await database.administer("ALTER DATABASE \(database.name) SET default_transaction_read_only = on")
        try await database.terminateSessions()
        for index in 0..<10 {
            _ = try await producer.send(
                KafkaProducerMessage(
                    topic: fixture.topics.requested, key: Array("ro-\(index)".utf8),
                    value: try Self.bare(["spec": Self.goodSpec, "idempotency_key": "outage-ro-\(index)"])))
        }
        try await Task.sleep(for: .seconds(20))
        try await database.administer(
            "ALTER DATABASE \(database.name) RESET default_transaction_read_only",
            "ALTER DATABASE \(database.name) ALLOW_CONNECTIONS false")
        try await database.terminateSessions()
        for index in 0..<10 {
            _ = try await producer.send(
                KafkaProducerMessage(
                    topic: fixture.topics.requested, key: Array("down-\(index)".utf8),
                    value: try Self.bare(["spec": Self.goodSpec, "idempotency_key": "outage-down-\(index)"])))
        }
        await producer.shutdown()
        try await Task.sleep(for: .seconds(25))
        try await database.administer("ALTER DATABASE \(database.name) ALLOW_CONNECTIONS true")

        try await fixture.waitUntil("20 runs succeeded after the outage", timeout: .seconds(120)) {
            try await fixture.count(
                "SELECT count(*)::int FROM runs WHERE idempotency_key LIKE 'outage-%' AND state = 'succeeded'") == 20
        }
        #expect(try await fixture.count("SELECT count(*)::int FROM dead_letters") == 0)
        #expect(serve.log.contains("handling failed; retrying"), "the outage was seen and waited out")
        await serve.stop()
    }

    @Test(
        "A broker that loses all data with 50 runs in flight: all succeed without a restart, and a new bare request runs"
    )
    func brokerWipe() async throws {
        let broker = try PrivateBroker()
        try await broker.start()
        let fixture = try await EngineFixture(
            brokers: [broker.address],
            environment: ["BATON_TOPIC_CHECK_SECONDS": "1", "BATON_REDRIVE_SECONDS": "3"])
        let serve = try fixture.serve("wipe")
        try await fixture.waitUntil("serve created its topics", timeout: .seconds(30)) {
            (try? await fixture.get("/readyz"))?.status == 200
        }
        let producer = try fixture.producer()
        var runIDs: [UUID] = []
        for _ in 0..<50 {
            let runID = UUID()
            let event = try CloudEvent(
                source: "test", type: .pipelineRequested, payload: PipelineRequested(spec: Self.slowSpec, runId: runID))
            _ = try await producer.send(
                KafkaEvents.message(event, topic: fixture.topics.requested, key: runID.lowercased))
            runIDs.append(runID)
        }
        await producer.shutdown()
        try await fixture.waitUntil("50 runs in flight", timeout: .seconds(60)) {
            let runs = try await fixture.count("SELECT count(*)::int FROM runs")
            let done = try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE state = 'succeeded'")
            return runs == 50 && done >= 20
        }
        #expect(try await fixture.count("SELECT count(*)::int FROM runs WHERE state = 'running'") > 0)
        try await broker.wipe()

        // A bare request without an idempotency key after the reset: its offset was used before the
        // wipe, and it must not be taken for a duplicate.
        try await fixture.waitUntil("the requests topic exists again", timeout: .seconds(60)) {
            let producer = try fixture.producer()
            let sent = try? await producer.send(
                KafkaProducerMessage(
                    topic: fixture.topics.requested, key: nil,
                    value: try Self.bare(["spec": Self.goodSpec, "labels": ["kind": "after-wipe"]])))
            await producer.shutdown()
            return sent != nil
        }
        let views = try await fixture.waitForRuns(runIDs, timeout: .seconds(240))
        #expect(views.allSatisfy { $0.state == .succeeded })
        try await fixture.waitUntil("the bare request after the wipe ran", timeout: .seconds(60)) {
            try await fixture.count(
                "SELECT count(*)::int FROM runs WHERE labels->>'kind' = 'after-wipe' AND state = 'succeeded'") == 1
        }
        #expect(serve.process.isRunning, "serve recovered without a restart")
        #expect(try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE executions > 1") == 0)
        await serve.stop()
        await broker.kill()
    }

    @Test("A request dead-lettered while the database refused it runs once after the fix, even when replayed twice")
    func replayDeadLetter() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("replay")
        // The "outage": a constraint (as a bad migration might add) refuses this pipeline's runs.
        try await fixture.withStore { store in
            try await store.client.query(
                PostgresQuery(
                    unsafeSQL: "ALTER TABLE runs ADD CONSTRAINT replay_outage CHECK (pipeline_name <> 'steady')"))
        }
        let specFile = try fixture.specFile(Self.goodSpec)
        let submitted = try await fixture.baton("submit", specFile, "--wait", "--json", "--timeout", "60")
        #expect(submitted.status == 2, "\(submitted.output)")
        #expect(submitted.output.contains("dead_lettered"), "\(submitted.output)")
        #expect(submitted.output.contains("replay_outage"), "\(submitted.output)")
        let listed = try await fixture.baton("dlq", "list", "--json")
        let letters = try JSONDecoder().decode([Letter].self, from: Data(listed.output.utf8))
        let letter = try #require(letters.first)
        #expect(letters.count == 1)

        try await fixture.withStore { store in
            try await store.client.query(PostgresQuery(unsafeSQL: "ALTER TABLE runs DROP CONSTRAINT replay_outage"))
        }
        // Replayed twice: by the CLI, then over the API by an admin token.
        let replayed = try await fixture.baton("dlq", "replay", String(letter.id), "--actor", "ops")
        #expect(replayed.status == 0, "\(replayed.output)")
        let admin = APIClient(
            port: fixture.apiPort, token: try await APITests.makeToken(fixture, name: "dlq-admin", scopes: "admin"))
        try await APITests.waitForAPI(fixture)
        let overHTTP = try await admin.call("replayDeadLetter", .POST, "/v1/dead-letters/\(letter.id)/replay")
        #expect(overHTTP.status == 200, "\(overHTTP.text)")
        #expect((overHTTP.object["destination"] as? String)?.hasPrefix(fixture.topics.requested + "[") == true)
        try await fixture.waitUntil("the replayed request ran", timeout: .seconds(60)) {
            try await fixture.count("SELECT count(*)::int FROM runs WHERE state = 'succeeded'") == 1
        }
        try await Task.sleep(for: .seconds(2))
        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 1, "exactly one run for two replays")
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM dead_letter_actions WHERE action = 'replayed' AND actor IN ('ops', 'token:dlq-admin')"
            ) == 2)
        let discarded = try await admin.call(
            "discardDeadLetter", .POST, "/v1/dead-letters/\(letter.id)/discard", json: ["reason": "replayed"])
        #expect(discarded.status == 200, "\(discarded.text)")
        let again = try await admin.call("discardDeadLetter", .POST, "/v1/dead-letters/\(letter.id)/discard")
        #expect(again.status == 409, "\(again.text)")
        #expect(try await fixture.baton("dlq", "list").output.contains("no dead letters"))
        let audit = try await fixture.withStore { try await $0.access.auditLog(target: String(letter.id)) }
        #expect(audit.map(\.action) == ["dead_letters.discard", "dead_letters.replay"])
        #expect(audit.allSatisfy { $0.actor == "token:dlq-admin" })
        await serve.stop()
    }

    @Test("An outbox event the broker refuses for good is parked, and the events behind it flow on")
    func parkedOutboxEvent() async throws {
        let fixture = try await EngineFixture()
        try await fixture.withStore { store in
            let oversize = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1_500_000)
            try await store.client.query(
                """
                INSERT INTO outbox (event_id, event_type, source, topic, key, payload)
                VALUES ('oversize-1', 'run.notice', 'test', \(fixture.topics.runEvents), 'k', \(oversize))
                """)
        }
        let serve = try fixture.serve("parked")
        let specFile = try fixture.specFile(Self.goodSpec)
        let submitted = try await fixture.baton("submit", specFile, "--wait", "--json", "--timeout", "60")
        #expect(submitted.status == 0, "\(submitted.output)")
        let failed = try await fixture.baton("outbox", "failed")
        #expect(failed.output.contains("message.max.bytes"), "\(failed.output)")
        let retried = try await fixture.baton("outbox", "retry", "--all", "--actor", "ops")
        #expect(retried.output.contains("un-parked 1 outbox event"), "\(retried.output)")
        try await fixture.waitUntil("the event is parked again", timeout: .seconds(30)) {
            try await fixture.count("SELECT count(*)::int FROM outbox WHERE failed_at IS NOT NULL") == 1
        }
        await serve.stop()
    }

    struct Letter: Decodable {
        var id: Int64
        var error: String
    }
}
