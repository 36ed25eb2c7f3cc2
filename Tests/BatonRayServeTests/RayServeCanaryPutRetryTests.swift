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

    /// Runs `body` with applications of a stand-in whose PUTs answer `statuses` in turn (200 after
    /// them), and returns the number of PUTs it saw.
    static func withStandIn(
        putStatuses statuses: [Int], _ body: @Sendable (RayServeCanaryApplications) async throws -> Void
    ) async throws -> Int {
        let queue = Mutex((statuses: statuses, puts: 0))
        let router = Router()
        router.get("/api/serve/applications/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"applications": {}}"#)))
        }
        router.put("/api/serve/applications/") { _, _ in
            let status = queue.withLock { state -> Int in
                state.puts += 1
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
        return queue.withLock { $0.puts }
    }

    @Test("A PUT that Serve fails internally (HTTP 500) is sent again, and the deploy goes on")
    func serverErrorIsRetried() async throws {
        let puts = try await Self.withStandIn(putStatuses: [500, 500]) { applications in
            try await applications.deploy(model: "llm", routing: nil, workingDir: "gcs://unused.zip")
        }
        #expect(puts == 3)
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
        #expect(refused == 1)
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
        #expect(failing == attempts)
    }
}
