import BatonHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// The JSON-over-HTTP core against a real HTTP server on loopback (Hummingbird), playing an API
/// that answers, refuses, stalls and floods.
@Suite("JSON over HTTP core (real loopback server)", .timeLimit(.minutes(1)))
struct JSONHTTPClientTests {
    static let logger = Logger(label: "test.http")

    static func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/json") { request, _ in
            let header = request.headers[.init("X-Test")!] ?? ""
            let call = request.headers[.init("X-Call")!] ?? ""
            return Self.answer(.ok, #"{"name": "baton", "header": "\#(header)", "call": "\#(call)"}"#)
        }
        router.get("/refuse") { _, _ in Self.answer(.serviceUnavailable, #"{"message": "busy"}"#) }
        router.get("/missing") { _, _ in Self.answer(.notFound, "no such thing") }
        router.get("/slow") { _, _ in
            try await Task.sleep(for: .seconds(3))
            return Self.answer(.ok, "{}")
        }
        router.get("/late") { _, _ in
            // Silent for longer than the client's default deadline would allow a stalled call.
            try await Task.sleep(for: .milliseconds(1500))
            return Self.answer(.ok, #"{"name": "late"}"#)
        }
        router.get("/big") { _, _ in Self.answer(.ok, "[" + String(repeating: "1,", count: 100_000) + "1]") }
        router.get("/query") { request, _ in Self.answer(.ok, #"{"name": "\#(request.uri.query ?? "")"}"#) }
        return router
    }

    static func answer(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    struct Named: Decodable {
        var name: String
        var header: String?
        var call: String?
    }

    /// Runs `body` with a client of a fresh server.
    func withClient(
        timeout: Duration = .seconds(10), maxBytes: Int = 16 << 20,
        _ body: @escaping @Sendable (JSONHTTPClient) async throws -> Void
    ) async throws {
        let app = Application(
            router: Self.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: Self.logger)
        try await app.test(.live) { client in
            var configuration = JSONHTTPClient.Configuration(
                service: "Test", baseURL: "http://127.0.0.1:\(try #require(client.port))/")
            configuration.headers.add(name: "X-Test", value: "configured")
            configuration.requestTimeout = timeout
            configuration.maxResponseBytes = maxBytes
            try await body(JSONHTTPClient(configuration: configuration, logger: Self.logger))
        }
    }

    @Test("An answer is decoded; configured and per-call headers are sent")
    func answers() async throws {
        try await withClient { client in
            let answer = try await client.send(.GET, "/json", headers: ["X-Call": "once"])
            let named = try client.decode(Named.self, from: answer)
            #expect(named.name == "baton" && named.header == "configured" && named.call == "once")
            #expect(answer.status == 200 && answer.path == "/json")
        }
    }

    @Test("A refusal keeps the status and body; 5xx is retriable, 404 is not found and final")
    func refusals() async throws {
        try await withClient { client in
            let busy = await #expect(throws: HTTPCallFailure.self) { try await client.send(.GET, "/refuse") }
            #expect(busy?.kind == .refused && busy?.status == 503 && busy?.isRetriable == true)
            #expect(busy.map { String(decoding: $0.body, as: UTF8.self) } == #"{"message": "busy"}"#)
            #expect(busy?.reason.hasPrefix("Test refused GET /refuse") == true, "\(String(describing: busy))")
            let missing = await #expect(throws: HTTPCallFailure.self) { try await client.send(.GET, "/missing") }
            #expect(missing?.isNotFound == true && missing?.isRetriable == false)
            // Any status is an answer when the caller says so.
            let answered = try await client.send(.GET, "/missing", expect: nil)
            #expect(answered.status == 404)
        }
    }

    @Test("A stalled server fails the call at the deadline, as retriable; a late answer within it arrives")
    func deadlines() async throws {
        try await withClient(timeout: .milliseconds(400)) { client in
            let started = ContinuousClock.now
            let stalled = await #expect(throws: HTTPCallFailure.self) { try await client.send(.GET, "/slow") }
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(stalled?.kind == .unavailable && stalled?.isRetriable == true)
            #expect(stalled?.reason.contains("did not answer GET /slow within") == true)
            let late = try await client.send(.GET, "/late", timeout: .seconds(5))
            #expect(try client.decode(Named.self, from: late).name == "late")
        }
    }

    @Test("An answer larger than the limit, or not the JSON asked for, is a bad response, not retried")
    func badResponses() async throws {
        try await withClient(maxBytes: 1000) { client in
            let big = await #expect(throws: HTTPCallFailure.self) { try await client.send(.GET, "/big") }
            #expect(big?.kind == .badResponse && big?.isRetriable == false)
            let answer = try await client.send(.GET, "/json")
            let wrong = #expect(throws: HTTPCallFailure.self) { try client.decode([Int].self, from: answer) }
            #expect(wrong?.kind == .badResponse && wrong?.reason.contains("Test's answer to /json") == true)
        }
    }

    @Test("A long answer streams into a sink within the deadline; a refusal of a stream is typed")
    func streams() async throws {
        try await withClient { client in
            let count = try await client.stream("/big", into: 0) { total, chunk in total += chunk.readableBytes }
            #expect(count == 200_003)
            let refused = await #expect(throws: HTTPCallFailure.self) {
                try await client.stream("/missing", into: 0) { _, _ in }
            }
            #expect(refused?.isNotFound == true)
        }
    }

    @Test("Nothing listening is unavailable and retriable")
    func unreachable() async throws {
        var configuration = JSONHTTPClient.Configuration(service: "Nobody", baseURL: "http://127.0.0.1:1")
        configuration.requestTimeout = .seconds(1)
        let client = JSONHTTPClient(configuration: configuration, logger: Self.logger)
        let failure = await #expect(throws: HTTPCallFailure.self) { try await client.send(.GET, "/") }
        #expect(failure?.kind == .unavailable && failure?.isRetriable == true)
        #expect(failure?.reason.hasPrefix("Nobody at http://127.0.0.1:1 did not answer GET /") == true)
    }

    @Test("Path segments and query values are escaped; + stays addition")
    func escaping() async throws {
        #expect(JSONHTTPClient.segment("a/b c") == "a%2Fb%20c")
        #expect(JSONHTTPClient.queryString([:]) == "")
        #expect(JSONHTTPClient.queryString(["q": "1+1 = 2", "a": "x&y"]) == "?a=x%26y&q=1%2B1%20%3D%202")
        try await withClient { client in
            let answer = try await client.send(.GET, "/query", query: ["q": "rate(x[5m]) + 1"])
            #expect(try client.decode(Named.self, from: answer).name == "q=rate%28x%5B5m%5D%29%20%2B%201")
        }
    }
}
