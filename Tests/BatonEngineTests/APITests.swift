import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Synchronization
import Testing

/// The HTTP API (`serve --roles api`) as a client uses it: tokens made with `baton tokens`,
/// real TCP, the real database and broker behind it.
@Suite("HTTP API", .timeLimit(.minutes(5)))
struct APITests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: api-demo}
        stages:
          - {name: prepare, kind: noop, noop: {sleep: 300ms}}
          - {name: train, kind: noop, needs: [prepare], noop: {sleep: 300ms}}
          - {name: evaluate, kind: noop, needs: [train], noop: {sleep: 300ms}}
        """

    /// A fixture with `serve` running and a token of `scopes` named `name`.
    static func start(_ name: String, scopes: String = "runs:read,runs:submit,runs:cancel") async throws -> (
        fixture: EngineFixture, serve: BatonProcess, token: String
    ) {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve(name)
        let token = try await makeToken(fixture, name: "\(name)-token", scopes: scopes)
        try await waitForAPI(fixture)
        return (fixture, serve, token)
    }

    /// `baton tokens create`: the secret is the last word of its output.
    static func makeToken(_ fixture: EngineFixture, name: String, scopes: String) async throws -> String {
        let made = try await fixture.baton("tokens", "create", "--name", name, "--scopes", scopes)
        #expect(made.status == 0, "\(made.output)")
        let secret = try #require(made.output.split(whereSeparator: \.isWhitespace).last.map(String.init))
        #expect(secret.hasPrefix("baton_"))
        return secret
    }

    static func waitForAPI(_ fixture: EngineFixture) async throws {
        let client = APIClient(port: fixture.apiPort)
        try await fixture.waitUntil("the API answers", timeout: .seconds(60)) {
            (try? await client.call("getHealth", .GET, "/healthz").status) == 200
        }
    }

    static func body(_ spec: String = spec, params: [String: Any] = [:], labels: [String: String] = [:]) -> [String:
        Any]
    {
        ["spec": spec, "params": params, "labels": labels]
    }

    @Test(
        "No token: 401 on every operation but health and the document; a token without the scope: 403; with it: the call works, audited with the token's name"
    )
    func authentication() async throws {
        let (fixture, serve, submitter) = try await Self.start("api-auth")
        let promoter = try await Self.makeToken(fixture, name: "promoter", scopes: "models:promote")
        // Bad token requests are refused with the reason, and make nothing.
        let unknownScope = try await fixture.baton("tokens", "create", "--name", "x", "--scopes", "runs:write")
        #expect(unknownScope.status != 0)
        let badName = try await fixture.baton("tokens", "create", "--name", "../x", "--scopes", "runs:read")
        #expect(badName.status != 0)
        let taken = try await fixture.baton("tokens", "create", "--name", "promoter", "--scopes", "runs:read")
        #expect(taken.status != 0, "a live token's name is taken")
        #expect(try await fixture.count("SELECT count(*)::int FROM api_tokens") == 2)
        let anonymous = APIClient(port: fixture.apiPort)
        let someRun = UUID().lowercased
        let operations: [(String, HTTPMethod, String, String)] = [
            ("createRun", .POST, "/v1/runs", "runs:submit"),
            ("listRuns", .GET, "/v1/runs", "runs:read"),
            ("getRun", .GET, "/v1/runs/\(someRun)", "runs:read"),
            ("cancelRun", .POST, "/v1/runs/\(someRun)/cancel", "runs:cancel"),
            ("retryRun", .POST, "/v1/runs/\(someRun)/retry", "runs:submit"),
            ("streamRunEvents", .GET, "/v1/runs/\(someRun)/events", "runs:read"),
            ("listPipelines", .GET, "/v1/pipelines", "runs:read"),
            ("getPipeline", .GET, "/v1/pipelines/some", "runs:read"),
            ("listModels", .GET, "/v1/models", "runs:read"),
            ("getModel", .GET, "/v1/models/some", "runs:read"),
            ("receiveAlertmanagerHook", .POST, "/v1/hooks/alertmanager", "runs:submit"),
        ]
        for (operation, method, path, scope) in operations {
            let json: [String: Any]? = method == .POST ? ["from": "x"] : nil
            // promoter holds models:promote only, so every operation here is refused to it.
            let bare = try await anonymous.call(operation, method, path, json: json)
            #expect(bare.status == 401, "\(operation) without a token: \(bare.text)")
            #expect(bare.contentType == "application/problem+json")
            #expect(bare.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let wrong = try await anonymous.with(token: promoter).call(operation, method, path, json: json)
            #expect(wrong.status == 403, "\(operation) with models:promote: \(wrong.text)")
            #expect((wrong.object["detail"] as? String)?.contains(scope) == true, "\(wrong.text)")
            let forged = try await anonymous.with(token: "baton_" + String(repeating: "A", count: 43)).call(
                operation, method, path, json: json)
            #expect(forged.status == 401)
        }
        #expect(try await anonymous.call("getHealth", .GET, "/healthz").status == 200)
        let document = try await anonymous.call("getOpenAPIDocument", .GET, "/v1/openapi.yaml")
        #expect(document.status == 200)
        let shipped = try String(
            contentsOf: TestStack.repositoryRoot.appending(path: "schemas/openapi.yaml"), encoding: .utf8)
        #expect(document.text == shipped)

        let client = anonymous.with(token: submitter)
        let accepted = try await client.call("createRun", .POST, "/v1/runs", json: Self.body())
        #expect(accepted.status == 202, "\(accepted.text)")
        let runID = try #require((accepted.object["run_id"] as? String).flatMap(UUID.init(uuidString:)))
        let run = try #require(try await fixture.waitForRuns([runID]).first)
        #expect(run.state == .succeeded)
        let audit = try await fixture.withStore { try await $0.access.auditLog(target: runID.lowercased) }
        #expect(audit.map(\.action) == ["runs.submit"])
        #expect(audit.first?.actor == "token:api-auth-token")
        #expect(audit.first?.outcome == "accepted")
        #expect(
            try await fixture.count("SELECT count(*)::int FROM runs WHERE requested_by = 'token:api-auth-token'") == 1)

        // Revoked: refused from then on.
        let revoked = try await fixture.baton("tokens", "revoke", "api-auth-token")
        #expect(revoked.status == 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await client.call("listRuns", .GET, "/v1/runs").status == 401)
        await serve.stop()
    }

    @Test("POST /v1/runs twice with one Idempotency-Key makes one run; the same key with another body is 409")
    func idempotency() async throws {
        let (fixture, serve, token) = try await Self.start("api-idem")
        let client = APIClient(port: fixture.apiPort, token: token)
        let key = [("Idempotency-Key", "nightly-\(TestStack.uniqueSuffix())")]
        let first = try await client.call("createRun", .POST, "/v1/runs", json: Self.body(), headers: key)
        let second = try await client.call("createRun", .POST, "/v1/runs", json: Self.body(), headers: key)
        #expect(first.status == 202 && second.status == 202, "\(first.text) \(second.text)")
        #expect(first.object["run_id"] as? String == second.object["run_id"] as? String)
        #expect(first.object["existing"] as? Bool == false)
        #expect(second.object["existing"] as? Bool == true)
        let other = try await client.call(
            "createRun", .POST, "/v1/runs", json: Self.body(labels: ["x": "y"]), headers: key)
        #expect(other.status == 409, "\(other.text)")
        #expect(other.contentType == "application/problem+json")
        let runID = try #require((first.object["run_id"] as? String).flatMap(UUID.init(uuidString:)))
        _ = try await fixture.waitForRuns([runID])
        try await Task.sleep(for: .seconds(1))
        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 1)
        #expect(
            try await fixture.count("SELECT count(*)::int FROM outbox WHERE event_type = 'pipeline.requested'") <= 1)
        await serve.stop()
    }

    @Test("POST while the broker is down answers 202 at once; the run succeeds once the broker is back")
    func brokerDown() async throws {
        let broker = try PrivateBroker()
        try await broker.start()
        let fixture = try await EngineFixture(
            brokers: [broker.address],
            environment: ["BATON_TOPIC_CHECK_SECONDS": "1", "BATON_REQUEST_REDRIVE_SECONDS": "3"])
        let serve = try fixture.serve("api-broker")
        let token = try await Self.makeToken(fixture, name: "broker", scopes: "runs:submit,runs:read")
        try await Self.waitForAPI(fixture)
        await broker.kill()
        let client = APIClient(port: fixture.apiPort, token: token)
        let started = ContinuousClock.now
        let accepted = try await client.call("createRun", .POST, "/v1/runs", json: Self.body())
        #expect(accepted.status == 202, "\(accepted.text)")
        #expect(ContinuousClock.now - started < .seconds(5), "the answer does not wait for the broker")
        let runID = try #require((accepted.object["run_id"] as? String).flatMap(UUID.init(uuidString:)))
        let waiting = try await client.call("getRun", .GET, "/v1/runs/\(runID.lowercased)")
        #expect(waiting.object["state"] as? String == "requested", "\(waiting.text)")
        try await broker.start()
        let run = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(150)).first)
        #expect(run.state == .succeeded)
        await serve.stop()
        await broker.kill()
    }

    @Test("Events stream live as stages commit, numbered 1...n with no gap; Last-Event-ID resumes after the given one")
    func events() async throws {
        let (fixture, serve, token) = try await Self.start("api-sse")
        let client = APIClient(port: fixture.apiPort, token: token)
        let slower = Self.spec.replacingOccurrences(of: "sleep: 300ms", with: "sleep: 2s")
        let accepted = try await client.call("createRun", .POST, "/v1/runs", json: Self.body(slower))
        let runID = try #require((accepted.object["run_id"] as? String).flatMap(UUID.init(uuidString:)))
        let stream = try await client.events("/v1/runs/\(runID.lowercased)/events")
        #expect(stream.status == 200)
        let events = stream.events
        #expect(events.map(\.id) == Array(1...events.count).map(Optional.some), "\(events.map(\.id))")
        #expect(events.last?.type == "run.succeeded")
        for stage in ["prepare", "train", "evaluate"] {
            #expect(events.contains { $0.type == "stage.succeeded" && $0.object["stage"] as? String == stage })
        }
        #expect(events.allSatisfy { $0.object["run_id"] as? String == runID.lowercased })
        // Live: each event came as its stage committed, not all at the end. The stages take 2 s
        // each, so the first stage's end reached the client before the run's end was even
        // committed (its history row's time), seconds later; a client or server slowed down by a
        // busy machine delays the arrival, not the commit.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let firstEnd = try #require(events.first { $0.type == "stage.succeeded" })
        let runEnd = try #require(events.last)
        let runEndCommitted = try #require((runEnd.object["time"] as? String).flatMap(formatter.date(from:)))
        #expect(firstEnd.arrived < runEndCommitted, "\(firstEnd.arrived) \(runEndCommitted)")
        // Latency from the event's commit (its history row, in milliseconds) to the client.
        let latencies = events.compactMap { event -> Double? in
            (event.object["time"] as? String).flatMap(formatter.date(from:)).map { event.arrived.timeIntervalSince($0) }
        }.sorted()
        #expect(latencies.count == events.count, "every event has a time with milliseconds")
        if !latencies.isEmpty {
            let p50 = latencies[latencies.count / 2] * 1000
            print(
                "SSE latency, commit to client, \(latencies.count) events: p50 \(Int(p50)) ms, max \(Int(latencies.last! * 1000)) ms"
            )
        }

        let middle = events.count / 2
        let resumed = try await client.events("/v1/runs/\(runID.lowercased)/events", lastEventID: middle)
        #expect(resumed.events.map(\.id) == Array((middle + 1)...events.count).map(Optional.some))
        #expect(resumed.events.map(\.data) == Array(events[middle...]).map(\.data))
        await serve.stop()
    }
}
