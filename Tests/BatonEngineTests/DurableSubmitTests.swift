import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

/// `baton submit` writes its request to PostgreSQL's outbox before it returns: a broker that is
/// away, or loses the request with its data, delays the run but never loses it.
@Suite("Durable submit", .serialized, .timeLimit(.minutes(5)))
struct DurableSubmitTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: durable}
        stages:
          - {name: a, kind: noop}
          - {name: b, kind: noop, needs: [a]}
        """

    static func fixture(_ broker: PrivateBroker) async throws -> EngineFixture {
        try await EngineFixture(
            brokers: [broker.address],
            environment: ["BATON_TOPIC_CHECK_SECONDS": "1", "BATON_REQUEST_REDRIVE_SECONDS": "3"])
    }

    @Test("baton submit returns while the broker (and serve) are down; the run succeeds once they are back")
    func brokerDown() async throws {
        let broker = try PrivateBroker()
        let fixture = try await Self.fixture(broker)
        // Nothing of Kafka runs: the CLI needs only the database.
        let started = ContinuousClock.now
        let runID = try await fixture.submit(Self.spec)
        #expect(ContinuousClock.now - started < .seconds(20), "submit does not wait for the broker")
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM outbox WHERE event_type = 'pipeline.requested' AND published_at IS NULL")
                == 1)
        try await broker.start()
        let serve = try fixture.serve("durable-down")
        let run = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(150)).first)
        #expect(run.state == .succeeded)
        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 1)
        await serve.stop()
        await broker.kill()
    }

    @Test("A request the broker acknowledged and then lost is published again until the coordinator handled it")
    func brokerLosesTheRequest() async throws {
        let broker = try PrivateBroker()
        try await broker.start()
        let fixture = try await Self.fixture(broker)
        // Only the relay: it publishes the request, and no coordinator reads it.
        let relay = try BatonProcess(
            ["serve", "--roles", "relay"], environment: fixture.environment, logName: "\(fixture.prefix)-relay")
        let runID = try await fixture.submit(Self.spec)
        try await fixture.waitUntil("the relay published the request", timeout: .seconds(60)) {
            try await fixture.count(
                "SELECT count(*)::int FROM outbox WHERE event_type = 'pipeline.requested' AND published_at IS NOT NULL")
                == 1
        }
        await relay.stop()
        try await broker.wipe()
        let serve = try fixture.serve("durable-lost")
        let run = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(150)).first)
        #expect(run.state == .succeeded)
        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 1)
        #expect(try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE executions > 1") == 0)
        await serve.stop()
        await broker.kill()
    }
}
