import BatonCore
import BatonHTTPClient
import BatonMLflow
import BatonRay
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Testing

@testable import BatonEngine
@testable import BatonRayServe
@testable import BatonStore

/// The `rollout` stage kind with the Ray Serve target, through `baton serve`, a real Ray head
/// with Serve, the real Prometheus of the stack and the MLflow registry.
@Suite("Ray Serve canary end to end (real Ray Serve, Prometheus and MLflow)", .serialized, .timeLimit(.minutes(25)))
struct RayServeCanaryEndToEndTests {
    /// Writes a trivial servable model (`jobs/serve`'s `baton-serve.json`) that fails
    /// `error_rate` of its requests, and reports it with `accuracy`.
    static let program = #"""
        import json, os, pathlib
        params = json.loads(os.environ["BATON_PARAMS"])
        out = pathlib.Path(os.environ["BATON_OUTPUT_URI"][len("file://"):]) / "model"
        out.mkdir(parents=True, exist_ok=True)
        (out / "baton-serve.json").write_text(json.dumps({"error_rate": params["error_rate"]}))
        print("::baton::output " + json.dumps({"name": "model", "uri": "file://" + str(out), "kind": "model"}))
        print("::baton::metric " + json.dumps({"key": "accuracy", "value": 0.9, "step": 0}))
        """#

    let model = "canary-\(TestStack.uniqueSuffix())"
    let mlflowURI: String
    let serveHTTP: String
    let prometheusURL: String

    init() throws {
        mlflowURI = try TestStack.variable("BATON_MLFLOW_URI")
        serveHTTP = try TestStack.variable("BATON_RAY_SERVE_HTTP")
        prometheusURL = try TestStack.variable("BATON_PROMETHEUS_URL")
    }

    /// `jobs/serve` of this checkout.
    static let applications = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: "jobs/serve")

    /// The canary's steps: 50 %, analysis, pause, 100 %.
    static let canarySteps = ["setWeight: 50", "analysis: {template: errors}", "pause: 1s", "setWeight: 100"]

    /// The pipeline: train a trivial model, register it, roll it out to Ray Serve with `steps`
    /// (each a step as YAML).
    func spec(steps: [String] = canarySteps) throws -> String {
        let folder = try EngineFixture.jobFolder(program: Self.program)
        return """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: canary-e2e}
            params:
              error_rate: {type: number, default: 0}
            defaults: {pool: cpu, timeout: 5m, retries: {limit: 0, backoff: 1s}}
            notify:
              - name: team
                slack: {urlFrom: BATON_SLACK_WEBHOOK_URL}
                on: [rollout.step, rollout.succeeded, rollout.aborted, model.promoted]
            stages:
              - name: train
                outputs: [model]
                ray: \(EngineFixture.rayBody(folder))
              - name: register
                kind: register
                needs: [train]
                register: {model: \(model), artifact: stages.train.outputs.model}
              - name: rollout
                kind: rollout
                needs: [register]
                # A first deployment took 3.5 min with the whole suite on two cores.
                timeout: 12m
                rollout:
                  target: ray-serve
                  analysisTemplates:
                    errors:
                      interval: 6s
                      count: 2
                      failureLimit: 0
                      # "No data" (the candidate's first requests not yet exported by Ray's metrics
                      # agent and scraped) is an error, not a failure. With the whole suite running on
                      # 2 cores it lasted over a minute; two are allowed.
                      consecutiveErrorLimit: 20
                      metrics:
                        - name: success-rate
                          query: >-
                            (sum(rate(ray_baton_serve_requests_total{model="{{model}}",version="{{candidate.version}}",outcome="ok"}[20s])) or vector(0))
                            / sum(rate(ray_baton_serve_requests_total{model="{{model}}",version="{{candidate.version}}"}[20s]))
                          successCondition: result >= 0.9
                  steps:
                    \(steps.map { "- " + $0 }.joined(separator: "\n        "))
            """
    }

    /// A client of `base` for the test's own calls.
    static func client(_ base: String, timeout: Duration = .seconds(5)) -> JSONHTTPClient {
        var configuration = JSONHTTPClient.Configuration(service: "test", baseURL: base)
        configuration.requestTimeout = timeout
        return JSONHTTPClient(configuration: configuration, logger: TestStack.logger)
    }

    /// Sends requests to the model's router (`path` on Serve's proxy `base`) until cancelled;
    /// counts the answers by status (0: no answer).
    static func traffic(base: String, path: String) async -> [Int: Int] {
        var statuses: [Int: Int] = [:]
        let proxy = client(base)
        while !Task.isCancelled {
            let status = try? await proxy.send(.POST, path, body: Array(#"{"prompt": "hello"}"#.utf8), expect: nil)
                .status
            statuses[status ?? 0, default: 0] += 1
            try? await Task.sleep(for: .milliseconds(40))
        }
        return statuses
    }

    func steps(_ fixture: EngineFixture, run: UUID) async throws -> [String] {
        try await fixture.withStore { store in
            var steps: [String] = []
            let rows = try await store.client.query(
                """
                SELECT s.step_index, s.kind, s.weight, s.phase, s.measurements::text
                FROM rollout_steps s WHERE s.run_id = \(run) ORDER BY s.step_index
                """)
            for try await (index, kind, weight, phase, measurements) in rows.decode(
                (Int, String, Int, String, String).self)
            {
                steps.append("\(index):\(kind):\(weight):\(phase)" + (kind == "analysis" ? " \(measurements)" : ""))
            }
            return steps
        }
    }

    @Test(
        "A passing canary steps the weights to 100 and makes the candidate champion (MLflow shows it); a failing one sends traffic back to stable, reverts the alias and fails the run with the measurement"
    )
    func canaryPassesThenFails() async throws {
        // Serve's head is shared: whatever happens, the test's applications go.
        do {
            try await passThenFail()
        } catch {
            try? await removeApplications()
            throw error
        }
    }

    private func passThenFail() async throws {
        let fixture = try await EngineFixture()
        let slack = try NotificationEndToEndTests.Receiver()
        defer { slack.stop() }
        let serve = try BatonProcess(
            ["serve"],
            environment: fixture.environment.merging([
                "BATON_MLFLOW_URI": mlflowURI, "BATON_MLFLOW_EXPERIMENT_PREFIX": "baton-test-\(fixture.prefix)/",
                "BATON_MLFLOW_POLL_SECONDS": "0.3", "BATON_RAY_SERVE_APPS": Self.applications.path,
                "BATON_RAY_SERVE_READY_SECONDS": "600",
                "BATON_SLACK_WEBHOOK_URL": "\(slack.url)/services/T0/B0/canary",
            ]) { $1 }, logName: "\(fixture.prefix)-canary")
        let spec = try spec()
        let router = "/\(model)"
        let traffic = Task { await Self.traffic(base: serveHTTP, path: router) }
        defer { traffic.cancel() }

        // v1: the model's first rollout; nothing is serving, so v1 takes all traffic at once.
        let first = try await fixture.submit(spec, ["error_rate=0"])
        var view = try #require(try await fixture.waitForRuns([first], timeout: .seconds(600)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")

        // v2: a canary against v1 whose analysis passes.
        let started = ContinuousClock.now
        let second = try await fixture.submit(spec, ["error_rate=0"])
        view = try #require(try await fixture.waitForRuns([second], timeout: .seconds(600)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        let passed = try await steps(fixture, run: second)
        #expect(
            passed.map { $0.prefix(while: { $0 != " " }) } == [
                "0:setWeight:50:succeeded", "1:analysis:50:succeeded", "2:pause:50:succeeded",
                "3:setWeight:100:succeeded",
            ])
        #expect(passed[1].contains("\"success-rate\": 1"))
        print("figure: canary of v2 (4 steps, analysis 2 x 6s) took \(ContinuousClock.now - started) end to end")
        var registry = try #require(try await fixture.withStore { try await $0.registry.model(model) })
        #expect(registry.aliases == ["candidate": 2, "champion": 2])
        let promotion = try #require(registry.aliasEvents.first { $0.alias == "champion" && $0.toVersion == 2 })
        #expect(promotion.actor == "baton/\(second.lowercased)" && promotion.move == .promote)

        // v3 fails every request: its analysis fails, v2 serves alone again, candidate goes back to v2.
        let third = try await fixture.submit(spec, ["error_rate=1"])
        view = try #require(try await fixture.waitForRuns([third], timeout: .seconds(600)).first)
        #expect(view.state == .failed)
        #expect(view.reason?.contains("success-rate = 0 fails result >= 0.9") == true, "\(view.reason ?? "")")
        let failed = try await steps(fixture, run: third)
        #expect(failed.map { $0.prefix(while: { $0 != " " }) } == ["0:setWeight:50:succeeded", "1:analysis:0:failed"])
        registry = try #require(try await fixture.withStore { try await $0.registry.model(model) })
        #expect(registry.aliases == ["candidate": 2, "champion": 2])
        #expect(
            registry.aliasEvents.contains {
                $0.alias == "candidate" && $0.move == .rollback && $0.fromVersion == 3 && $0.toVersion == 2
            })
        // "Why is this model serving?" (docs/lineage.md) shows the steps that brought v2 to traffic.
        let query = try DocumentedQuery.lineage("why-serving").replacing("'korean-llm'", with: "'\(model)'")
        let why = try await fixture.withStore { store in
            var steps: [String] = []
            let rows = try await store.client.query(
                PostgresQuery(unsafeSQL: "SELECT q.version, q.rollout_steps::text FROM (\(query)) q"))
            for try await (version, text) in rows.decode((Int, String).self) { steps.append("v\(version) \(text)") }
            return steps
        }
        #expect(why.count == 1 && why[0].hasPrefix("v2 ") && why[0].contains("\"weight\": 100"))
        for event in ["rollout.step", "rollout.succeeded", "rollout.aborted"] {
            #expect(try await fixture.count("SELECT count(*)::int FROM outbox WHERE event_type = \(event)") > 0)
        }
        // Slack heard of the steps, v2's promotion and v3's abort, each once.
        try await fixture.waitUntil("Slack hears of the abort", timeout: .seconds(30)) {
            slack.messages.contains { "\($0["body"] ?? "")".contains("rollout.aborted") }
        }
        let texts = slack.messages.compactMap { ($0["body"] as? [String: Any])?["text"] as? String }
        let said = { (event: String) in texts.filter { $0.contains(event) }.count }
        #expect(said("rollout.aborted") == 1 && said("rollout.succeeded") == 2, "\(texts)")
        #expect(said("model.promoted") >= 1 && said("rollout.step") >= 5, "\(texts)")

        // Serve: only the router and v2 are left for the model, and the router sends everything to v2.
        let apps = try await servedApplications()
        #expect(apps.filter { $0.hasPrefix(model) }.sorted() == [model, "\(model)-v2"])
        let proxy = Self.client(serveHTTP)
        for _ in 0..<5 {
            let data = try await proxy.send(.POST, router, body: Array(#"{"prompt": "hi"}"#.utf8)).body
            #expect(String(decoding: data, as: UTF8.self).contains("\"version\":2"))
        }

        // MLflow: champion on v2.
        let mlflow = MLflowClient(configuration: .init(trackingURI: mlflowURI), logger: TestStack.logger)
        try await fixture.waitUntil("MLflow shows champion on version 2", timeout: .seconds(60)) {
            let aliases = try await mlflow.registeredModel(named: model)?.aliases ?? []
            return aliases.contains { $0.alias == "champion" && $0.version == "2" }
        }
        traffic.cancel()
        print("figure: router answers by status during the test: \(await traffic.value)")
        await serve.stop()
        try await removeApplications()
    }

    /// Removes the router and version applications of `name` (default: the test's model) from Serve.
    func removeApplications(of name: String? = nil) async throws {
        let name = name ?? model
        var configuration = RayServeCanary.Configuration(
            serveAddress: try TestStack.variable("BATON_RAY_ADDRESS"), prometheusURL: prometheusURL,
            applicationsFolder: Self.applications)
        configuration.requestTimeout = .seconds(10)
        let applications = RayServeCanaryApplications(
            serve: configuration.makeServeClient(logger: TestStack.logger), configuration: configuration,
            logger: TestStack.logger)
        try await applications.deploy(model: name, routing: nil, workingDir: "")
        #expect(try await servedApplications().filter { $0.hasPrefix(name) }.isEmpty)
    }

    /// The names of Serve's applications.
    func servedApplications() async throws -> [String] {
        let dashboard = Self.client(try TestStack.variable("BATON_RAY_ADDRESS"), timeout: .seconds(30))
        let root = try JSONDecoder().decode(
            JSONValue.self, from: Data(try await dashboard.send(.GET, "/api/serve/applications/").body))
        guard case .object(let fields) = root, case .object(let apps)? = fields["applications"] else { return [] }
        return Array(apps.keys)
    }
}
