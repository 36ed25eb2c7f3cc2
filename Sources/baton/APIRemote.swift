import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonHTTPClient
import BatonStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// The HTTP API of a Baton installation, as the CLI uses it when `BATON_API_URL` is set: a
/// laptop then needs a token (`BATON_API_TOKEN`), not the database or Kafka credentials.
struct APIRemote: Sendable {
    /// A run as `GET /v1/runs/{id}` answers: made by the coordinator, or only requested.
    enum RemoteRun: Sendable {
        case run(RunView)
        case requested(RequestedRunView)
    }

    /// A problem document the API answered with.
    struct Problem: Error, CustomStringConvertible {
        var status: Int
        var title: String
        var detail: String?
        var description: String { "HTTP \(status) \(title)" + (detail.map { ": \($0)" } ?? "") }
    }

    private let http: JSONHTTPClient

    /// The API named by `BATON_API_URL`, with `BATON_API_TOKEN`; nil when the URL is unset
    /// (the CLI then uses the database directly).
    static func fromEnvironment() throws -> APIRemote? {
        let environment = GlobalOptions.environment
        guard let url = environment["BATON_API_URL"], !url.isEmpty else { return nil }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ValidationError("BATON_API_URL must start with http:// or https://")
        }
        var configuration = JSONHTTPClient.Configuration(
            service: "Baton API", baseURL: url.hasSuffix("/") ? String(url.dropLast()) : url)
        configuration.requestTimeout = .seconds(30)
        if let authority = environment["BATON_API_CA_FILE"], !authority.isEmpty {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(authority)
            configuration.tlsConfiguration = tls
        }
        if let token = environment["BATON_API_TOKEN"], !token.isEmpty {
            configuration.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        return APIRemote(http: JSONHTTPClient(configuration: configuration, logger: Logger(label: "baton.api-client")))
    }

    /// `POST /v1/runs`: the run id, and whether an earlier request with the same key made it.
    func submit(_ request: PipelineRequested) async throws -> (runID: UUID, existing: Bool) {
        struct Body: Encodable {
            var pipeline: String?
            var version: Int?
            var spec: String?
            var params: [String: JSONValue]?
            var labels: [String: String]?
            var noCache: Bool?
            enum CodingKeys: String, CodingKey {
                case pipeline, version, spec, params, labels
                case noCache = "no_cache"
            }
        }
        let body = Body(
            pipeline: request.pipeline, version: request.version, spec: request.spec, params: request.params,
            labels: request.labels, noCache: request.noCache)
        var headers = HTTPHeaders()
        if let key = request.idempotencyKey { headers.add(name: "Idempotency-Key", value: key) }
        let answer = try await call(.POST, "/v1/runs", body: try CloudEvent.encode(body), headers: headers)
        return try Self.accepted(answer)
    }

    /// `POST /v1/runs/{id}/retry`: the new run's id.
    func retry(_ runID: UUID, from stage: String) async throws -> UUID {
        let answer = try await call(
            .POST, "/v1/runs/\(runID.lowercased)/retry", body: try CloudEvent.encode(["from": stage]))
        return try Self.accepted(answer).runID
    }

    /// `POST /v1/runs/{id}/cancel`.
    func cancel(_ runID: UUID, reason: String?) async throws {
        _ = try await call(
            .POST, "/v1/runs/\(runID.lowercased)/cancel", body: try CloudEvent.encode(["reason": reason]))
    }

    /// `GET /v1/runs/{id}`; nil for `404`.
    func run(_ runID: UUID) async throws -> RemoteRun? {
        let answer: JSONHTTPClient.Answer
        do {
            answer = try await call(.GET, "/v1/runs/\(runID.lowercased)")
        } catch let problem as Problem where problem.status == 404 {
            return nil
        }
        if let run = try? JSONDecoder.iso8601.decode(RunView.self, from: Data(answer.body)) { return .run(run) }
        return .requested(try JSONDecoder.iso8601.decode(RequestedRunView.self, from: Data(answer.body)))
    }

    /// `GET /v1/runs`: the newest runs.
    func runs(limit: Int) async throws -> [RunSummary] {
        struct Page: Decodable { var runs: [RunSummary] }
        let answer = try await call(.GET, "/v1/runs", query: ["limit": "\(min(max(limit, 1), 500))"])
        return try JSONDecoder.iso8601.decode(Page.self, from: Data(answer.body)).runs
    }

    /// Wakes when the run's event stream (`GET /v1/runs/{id}/events`) sends anything, and every
    /// `tick` besides (so a wait never depends on the stream alone); wakes that come while the
    /// last is unread are one wake. A stream that ends or breaks off is opened again after a
    /// second. The stream is closed when the sequence is released.
    func wakes(for runID: UUID, every tick: Duration) -> AsyncStream<Void> {
        let http = http
        let path = "/v1/runs/\(runID.lowercased)/events"
        return AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while !Task.isCancelled {
                            continuation.yield()
                            try? await Task.sleep(for: tick)
                        }
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            _ = try? await http.stream(
                                path, accept: "text/event-stream", timeout: .seconds(3700), into: 0
                            ) { _, _ in continuation.yield() }
                            try? await Task.sleep(for: .seconds(1))
                        }
                    }
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// `GET /v1/runs/{id}/stages/{stage}/logs`: hands the log to `write` as it arrives; with
    /// `follow`, until the attempt ends (the server ends a follow after an hour).
    func stageLog(
        _ runID: UUID, stage: String, attempt: Int?, tailLines: Int, follow: Bool,
        write: @escaping @Sendable (String) -> Void
    ) async throws {
        var query = ["tail_lines": "\(tailLines)", "follow": "\(follow)"]
        if let attempt { query["attempt"] = "\(attempt)" }
        let path = "/v1/runs/\(runID.lowercased)/stages/\(JSONHTTPClient.segment(stage))/logs"
        let failure: HTTPCallFailure
        do {
            _ = try await http.stream(
                path, query: query, accept: "text/plain", timeout: follow ? .seconds(3700) : .seconds(60), into: 0
            ) { _, chunk in write(String(buffer: chunk)) }
            return
        } catch {
            failure = error
        }
        guard let status = failure.status else { throw failure }
        throw Self.problem(status: status, body: failure.body)
    }

    private func call(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: [UInt8]? = nil,
        headers: HTTPHeaders = [:]
    ) async throws -> JSONHTTPClient.Answer {
        let answer = try await http.send(method, path, query: query, body: body, headers: headers, expect: nil)
        guard (200..<300).contains(answer.status) else { throw Self.problem(status: answer.status, body: answer.body) }
        return answer
    }

    /// The problem document of a refusal.
    private static func problem(status: Int, body: [UInt8]) -> Problem {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        return Problem(
            status: status, title: object?["title"] as? String ?? "refused", detail: object?["detail"] as? String)
    }

    private static func accepted(_ answer: JSONHTTPClient.Answer) throws -> (runID: UUID, existing: Bool) {
        struct Accepted: Decodable {
            var runID: String
            var existing: Bool
            enum CodingKeys: String, CodingKey {
                case existing
                case runID = "run_id"
            }
        }
        let accepted = try JSONDecoder().decode(Accepted.self, from: Data(answer.body))
        guard let id = UUID(uuidString: accepted.runID) else { throw Problem(status: 502, title: "bad run id") }
        return (id, accepted.existing)
    }
}

extension JSONDecoder {
    /// A decoder for the API's documents (dates in ISO 8601).
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
