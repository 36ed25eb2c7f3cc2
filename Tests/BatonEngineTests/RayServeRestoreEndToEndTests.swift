import BatonCore
import BatonHTTPClient
import BatonRay
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Testing

@testable import BatonEngine
@testable import BatonRayServe
@testable import BatonStore

/// The sweeper keeps a champion served on the real Ray Serve after KubeRay's PUT of its own
/// `serveConfigV2` deleted the model's applications; in the canary's end-to-end suite, so that it
/// never loads the small local head at the same time as the other Serve tests.
extension RayServeCanaryEndToEndTests {
    @Test(
        "After Serve's applications are replaced by a foreign set, the sweeper deploys the champion again, records and counts it, and leaves the foreign application",
        .timeLimit(.minutes(6)))
    func restoresLostChampion() async throws {
        let fixture = try await EngineFixture(environment: [
            "BATON_SERVE_RESTORE_SECONDS": "2", "BATON_RAY_SERVE_APPS": Self.applications.path,
        ])
        let serve = try fixture.serve("restore")
        let anchor = "anchor-\(TestStack.uniqueSuffix())"
        // Serve's head is shared: whatever happens, the test's applications go.
        do {
            try await restoreAfterReplacement(fixture, serve: serve, anchor: anchor)
        } catch {
            await serve.stop()
            try? await removeApplications()
            try? await removeApplications(of: anchor)
            throw error
        }
        await serve.stop()
        try await removeApplications()
        try await removeApplications(of: anchor)
    }

    /// The steps of ``restoresLostChampion()``.
    func restoreAfterReplacement(_ fixture: EngineFixture, serve: BatonProcess, anchor: String) async throws {
        let router = "/\(model)"

        // v1 rolled out at once (the model's first rollout): champion, served by the router.
        let run = try await fixture.submit(try spec(steps: ["setWeight: 100"]))
        let view = try #require(try await fixture.waitForRuns([run], timeout: .seconds(240)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        #expect(try await fixture.withStore { try await $0.registry.model(model) }?.aliases["champion"] == 1)
        #expect(try await answeredVersion(router) == 1)

        // KubeRay PUTs its serveConfigV2 (here one anchor application): Serve deletes the model's.
        // The other applications on the shared head (other tests, the demo) are sent back as they
        // are, as they would be in serveConfigV2; for this model that is the same as KubeRay's PUT.
        try await replaceApplications(removing: model, adding: anchor)
        let replaced = ContinuousClock.now
        // Until the model answers from v1 again: when it stopped answering, and how it answered.
        var down: Duration?
        var statuses: [Int: Int] = [:]
        try await fixture.waitUntil("\(model) answers from v1 again", timeout: .seconds(180)) {
            let answer = try? await Self.client(serveHTTP).send(
                .POST, router, body: Array(#"{"prompt": "hi"}"#.utf8), expect: nil)
            statuses[answer?.status ?? 0, default: 0] += 1
            let isServing =
                answer?.status == 200 && String(decoding: answer?.body ?? [], as: UTF8.self).contains("\"version\":1")
            if !isServing, down == nil { down = ContinuousClock.now - replaced }
            return isServing && down != nil
        }
        let back = ContinuousClock.now - replaced
        print(
            "figure: champion answering again \(back) after KubeRay's PUT, "
                + "\(down.map { back - $0 } ?? .zero) after it stopped answering (answers meanwhile: \(statuses))")
        #expect(down != nil, "the model never stopped answering: the PUT did not remove its applications")

        // The router and the champion's version are back, beside the foreign application.
        let apps = try await servedApplications()
        #expect(apps.filter { $0.hasPrefix(model) }.sorted() == [model, "\(model)-v1"])
        #expect(apps.contains(anchor), "the foreign application was removed: \(apps.sorted())")
        for _ in 0..<3 { #expect(try await answeredVersion(router) == 1) }

        // Recorded (model.restored), counted, logged at notice level; once, as later passes find it served.
        try await Task.sleep(for: .seconds(3))
        let restored = try await fixture.withStore { store in
            var events: [ModelRestored] = []
            let rows = try await store.client.query(
                "SELECT payload FROM outbox WHERE event_type = 'model.restored' AND key = \(model)")
            for try await payload in rows.decode(ByteBuffer.self) {
                events.append(try JSONDecoder().decode(ModelRestored.self, from: Data(payload.readableBytesView)))
            }
            return events
        }
        #expect(restored.map(\.version) == [1], "\(restored)")
        #expect(restored.first?.target == "ray-serve")
        #expect(restored.first?.reason == "router application \(model) missing", "\(restored)")
        let metrics = try await fixture.get("/metrics").body
        #expect(metrics.contains(#"baton_serve_restores_total{target="ray-serve",outcome="restored"} 1"#))
        #expect(metrics.contains(#"baton_serve_restores_total{target="ray-serve",outcome="already_serving"}"#))
        let notice = serve.log.split(separator: "\n").filter { $0.contains("champion restored") }
        #expect(notice.count == 1, "\(notice)")
        #expect(notice.first.map { $0.contains(" notice ") && $0.contains("model=\(model)") } == true)
        #expect(notice.first?.contains("version=1") == true)
    }

    /// The version of the model that answers a prompt at `path` on Serve's proxy.
    func answeredVersion(_ path: String) async throws -> Int? {
        let body = try await Self.client(serveHTTP).send(.POST, path, body: Array(#"{"prompt": "hi"}"#.utf8)).body
        guard case .object(let fields) = try JSONDecoder().decode(JSONValue.self, from: Data(body)) else { return nil }
        return fields["version"]?.numberValue.map { Int($0) }
    }

    /// What KubeRay's PUT of `serveConfigV2` does to the model `removing`: one `PUT
    /// /api/serve/applications/` whose set has the anchor application `adding` (the router with no
    /// routing, as `deploy/ray-service.yaml`'s `baton-anchor`) and not the model's applications.
    func replaceApplications(removing model: String, adding anchor: String) async throws {
        let address = try TestStack.variable("BATON_RAY_ADDRESS")
        let dashboard = Self.client(address, timeout: .seconds(120))
        let root = try JSONDecoder().decode(
            JSONValue.self, from: Data(try await dashboard.send(.GET, "/api/serve/applications/").body))
        guard case .object(let fields) = root, case .object(let current)? = fields["applications"] else {
            throw EngineFixture.ConditionNotMet(description: "Serve lists no applications")
        }
        var apps: [JSONValue] = []
        for (name, app) in current.sorted(by: { $0.key < $1.key })
        where !RayServeCanaryApplications.belongs(name, to: model, app: app) {
            if case .object(let entry) = app, let config = entry["deployed_app_config"], config != .null {
                apps.append(config)
            }
        }
        let ray = RayJobClient(configuration: .init(address: address), logger: TestStack.logger)
        let workingDir = try await ray.workingDirectory(for: Self.applications)
        apps.append(
            .object([
                "name": .string(anchor), "route_prefix": .string("/\(anchor)"),
                "import_path": .string("baton_serve.router:build"),
                "runtime_env": .object(["working_dir": .string(workingDir)]),
            ]))
        let proxy = try #require(URL(string: serveHTTP))
        let config: JSONValue = .object([
            "proxy_location": .string("HeadOnly"),
            "http_options": .object([
                "host": .string(proxy.host() ?? "127.0.0.1"), "port": .int(Int64(proxy.port ?? 8010)),
            ]),
            "applications": .array(apps),
        ])
        _ = try await dashboard.send(.PUT, "/api/serve/applications/", body: Array(try JSONEncoder().encode(config)))
    }
}
