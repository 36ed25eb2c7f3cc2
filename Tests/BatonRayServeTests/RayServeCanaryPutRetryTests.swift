import BatonCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@testable import BatonRayServe

/// How the applications' PUT meets Serve's own failures. The real Ray Serve cannot be made to
/// fail a PUT on demand, so these tests talk to a LOCAL STAND-IN for the dashboard's
/// `/api/serve/applications/` that answers the PUT with the statuses queued (Ray answers 500 when
/// `serve_start` raises, e.g. a proxy actor killed while Serve starts on a busy host, and 400 when
/// it validates and refuses the config); the real Serve's deploys are tested in the engine's suite.
@Suite("Ray Serve applications' PUT")
struct RayServeCanaryPutRetryTests {
    static let logger = Logger(label: "test")

    /// A running Serve's answer with no application.
    static let runningEmpty = (
        200, #"{"controller_info": {"actor_name": "SERVE_CONTROLLER_ACTOR"}, "applications": {}}"#
    )

    /// What the stand-in saw.
    struct Seen: Sendable {
        var gets = 0
        var puts = 0
        /// The application names of each PUT, in order.
        var sent: [[String]] = []
    }

    /// Runs `body` with applications of a stand-in whose GETs answer `reads` (status and body) in
    /// turn (the last one again after them) and whose PUTs answer `statuses` in turn (200 after them).
    static func withStandIn(
        reads: [(status: Int, body: String)] = [runningEmpty], putStatuses statuses: [Int],
        _ body: @Sendable (RayServeCanaryApplications) async throws -> Void
    ) async throws -> Seen {
        let queue = Mutex((reads: reads, statuses: statuses, seen: Seen()))
        let router = Router()
        router.get("/api/serve/applications/") { _, _ in
            let read = queue.withLock { state -> (status: Int, body: String) in
                state.seen.gets += 1
                return state.reads.count > 1 ? state.reads.removeFirst() : state.reads[0]
            }
            return Response(
                status: .init(code: read.status), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: read.body)))
        }
        router.put("/api/serve/applications/") { request, context in
            let body = try await request.body.collect(upTo: 1 << 20)
            let names: [String]
            if case .object(let config)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView)),
                case .array(let apps)? = config["applications"]
            {
                names = apps.compactMap { app in
                    if case .object(let fields) = app, case .string(let name)? = fields["name"] { name } else { nil }
                }
            } else {
                names = []
            }
            let status = queue.withLock { state -> Int in
                state.seen.puts += 1
                state.seen.sent.append(names)
                return state.statuses.isEmpty ? 200 : state.statuses.removeFirst()
            }
            let text = status == 500 ? "ray.exceptions.ActorDiedError: ProxyActor" : "ValidationError: bad"
            return Response(
                status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: status == 200 ? "" : text)))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let configuration = RayServeCanary.Configuration(
                serveAddress: "http://127.0.0.1:\(port)", prometheusURL: "http://127.0.0.1:1",
                applicationsFolder: URL(filePath: "/nonexistent"))
            try await body(
                RayServeCanaryApplications(
                    serve: configuration.makeServeClient(logger: logger), configuration: configuration,
                    logger: logger))
        }
        return queue.withLock { $0.seen }
    }

    @Test("A PUT that Serve fails internally (HTTP 500) is sent again, and the deploy goes on")
    func serverErrorIsRetried() async throws {
        let puts = try await Self.withStandIn(putStatuses: [500, 500]) { applications in
            try await applications.deploy(model: "llm", routing: nil, workingDir: "gcs://unused.zip")
        }
        #expect(puts.puts == 3)
    }

    @Test("A PUT Serve refuses (HTTP 400) fails at once; one that keeps failing ends as unavailable with the reason")
    func refusalsAndExhaustion() async throws {
        let refused = try await Self.withStandIn(putStatuses: [400]) { applications in
            let error = await #expect(throws: RayServeCanaryError.self) {
                try await applications.deploy(model: "llm", routing: nil, workingDir: "gcs://unused.zip")
            }
            #expect(error?.code == .deployFailed)
            #expect(error?.isRetriable == false)
            #expect(error?.reason.contains("HTTP 400") == true)
        }
        #expect(refused.puts == 1)
        let attempts = RayServeCanaryApplications.putAttempts
        let failing = try await Self.withStandIn(putStatuses: Array(repeating: 500, count: attempts)) { applications in
            let error = await #expect(throws: RayServeCanaryError.self) {
                try await applications.deploy(model: "llm", routing: nil, workingDir: "gcs://unused.zip")
            }
            #expect(error?.code == .unavailable)
            #expect(error?.isRetriable == true)
            #expect(error?.reason.contains("ActorDiedError") == true)
            #expect(error?.reason.contains("after \(attempts) attempts") == true)
        }
        #expect(failing.puts == attempts)
    }

    @Test(
        "A read without Serve's controller, or one that fails, is read again before a PUT is built on it; other models' applications are kept"
    )
    func emptyReadIsConfirmed() async throws {
        // The dashboard answers "no controller, no applications" when its lookup of a running
        // controller fails for a moment; the next read shows llm-vision, which the PUT keeps.
        let vision = """
            {"controller_info": {"actor_name": "SERVE_CONTROLLER_ACTOR"}, "applications": {
              "llm-vision": {"status": "RUNNING", "deployed_app_config": {"name": "llm-vision", "import_path": "baton_serve.router:build"}},
              "llm-vision-v1": {"status": "RUNNING", "deployed_app_config": {"name": "llm-vision-v1", "import_path": "baton_serve.model:build"}}}}
            """
        let flaky = try await Self.withStandIn(
            reads: [
                (503, "busy"), (200, #"{"controller_info": {}, "proxies": {}, "applications": {}}"#), (200, vision),
            ],
            putStatuses: []
        ) { applications in
            try await applications.deploy(model: "llm", routing: nil, workingDir: "gcs://unused.zip")
        }
        #expect(flaky.sent == [["llm-vision", "llm-vision-v1"]])
        // Serve not running: every read says so, and the PUT (which starts Serve) goes out after them.
        let started = ContinuousClock.now
        let none = try await Self.withStandIn(
            reads: [(200, #"{"controller_info": {}, "applications": {}}"#)], putStatuses: []
        ) { applications in
            try await applications.deploy(model: "llm", routing: nil, workingDir: "gcs://unused.zip")
        }
        #expect(none.puts == 1 && none.sent == [[]])
        #expect(none.gets >= RayServeCanaryApplications.emptyReadConfirmations)
        #expect(ContinuousClock.now - started >= RayServeCanaryApplications.emptyReadInterval * 2)
    }
}
