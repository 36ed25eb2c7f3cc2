import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One call of the HTTP API as a test made it, kept for the schema check.
struct APIExchange: Codable, Sendable {
    var operation: String
    var method: String
    var path: String
    var status: Int
    var contentType: String
    var body: String

    enum CodingKeys: String, CodingKey {
        case operation, method, path, status, body
        case contentType = "content_type"
    }
}

/// Calls `baton serve`'s HTTP API as any client would (AsyncHTTPClient, real TCP), and keeps
/// every exchange when given a recorder.
struct APIClient: Sendable {
    let baseURL: String
    var token: String?
    var recorder: Recorder?

    /// The exchanges of a test, in order.
    final class Recorder: Sendable {
        let exchanges = Mutex<[APIExchange]>([])
        func add(_ exchange: APIExchange) { exchanges.withLock { $0.append(exchange) } }
    }

    /// An answer: status, content type without parameters, body.
    struct Answer: Sendable {
        var status: Int
        var contentType: String
        var body: [UInt8]
        var headers: HTTPHeaders

        /// The body as a JSON object; empty when it is not one.
        var object: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    init(port: Int, token: String? = nil, recorder: Recorder? = nil) {
        baseURL = "http://127.0.0.1:\(port)"
        self.token = token
        self.recorder = recorder
    }

    /// This client with another token (nil for none).
    func with(token: String?) -> APIClient {
        var client = self
        client.token = token
        return client
    }

    /// Sends one request; `operation` names the OpenAPI operation for the schema check.
    @discardableResult
    func call(
        _ operation: String, _ method: HTTPMethod, _ path: String, json: Any? = nil, body: [UInt8]? = nil,
        contentType: String = "application/json", headers: [(String, String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            let bytes = try JSONSerialization.data(withJSONObject: json)
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        } else if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let contentType =
            response.headers.first(name: "Content-Type")?.split(separator: ";").first.map {
                $0.trimmingCharacters(in: .whitespaces)
            } ?? ""
        let answer = Answer(
            status: Int(response.status.code), contentType: contentType, body: Array(buffer: bytes),
            headers: response.headers)
        recorder?.add(
            APIExchange(
                operation: operation, method: method.rawValue, path: path, status: answer.status,
                contentType: contentType, body: answer.text))
        return answer
    }

    /// Reads `GET path` as plain text until it ends (or `limit` passes): the status, and the
    /// chunks with when each arrived.
    func chunks(_ path: String, limit: Duration = .seconds(180)) async throws -> (
        status: Int, chunks: [(text: String, arrived: ContinuousClock.Instant)]
    ) {
        var request = HTTPClientRequest(url: baseURL + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "text/plain")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(limit.components.seconds)))
        var chunks: [(text: String, arrived: ContinuousClock.Instant)] = []
        for try await chunk in response.body { chunks.append((String(buffer: chunk), .now)) }
        return (Int(response.status.code), chunks)
    }

    /// One Server-Sent Event as received, with when it arrived.
    struct Event: Sendable {
        var id: Int?
        var type: String?
        var data: String
        var arrived: Date
        var object: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
        }
    }

    /// Reads `GET path` as an event stream until it ends (or `limit` passes), handing each
    /// event to `onEvent` as it arrives.
    func events(
        _ path: String, lastEventID: Int? = nil, limit: Duration = .seconds(120),
        onEvent: @Sendable (Event) -> Void = { _ in }
    ) async throws -> (status: Int, events: [Event]) {
        var request = HTTPClientRequest(url: baseURL + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: "\(lastEventID)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(limit.components.seconds)))
        guard response.status == .ok else { return (Int(response.status.code), []) }
        var events: [Event] = []
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending.removeSubrange(..<end.upperBound)
                var event = Event(data: "", arrived: Date())
                var isEvent = false
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { event.id = Int(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { event.type = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") {
                        event.data = String(line.dropFirst(6))
                        isEvent = true
                    }
                }
                if isEvent {
                    events.append(event)
                    onEvent(event)
                }
            }
        }
        return (200, events)
    }
}
