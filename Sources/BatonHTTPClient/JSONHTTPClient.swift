import AsyncHTTPClient
import BatonCore
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOSSL
import Tracing

/// A client of one JSON-over-HTTP API (Ray's dashboard, MLflow, a Kubernetes API server, Ray
/// Serve, Prometheus): every call goes to ``Configuration/baseURL``, carries the configured
/// headers, ends within ``Configuration/requestTimeout`` (sending, waiting and reading the whole
/// answer), reads at most a bounded number of bytes, and fails with one ``HTTPCallFailure``.
///
/// It does not retry: callers decide with ``HTTPCallFailure/isRetriable``.
public struct JSONHTTPClient: Sendable {
    /// Where the API is and how to talk to it.
    public struct Configuration: Sendable {
        /// What the API is called in error messages, e.g. `Ray`, `MLflow`, `Kubernetes`.
        public var service: String
        /// The server, e.g. `http://127.0.0.1:8265`; a trailing `/` is dropped.
        public var baseURL: String
        /// The longest one call may take, answer included. Default: 10 s.
        public var requestTimeout: Duration = .seconds(10)
        /// The most bytes of an answer read. Default: 16 MiB.
        public var maxResponseBytes = 16 << 20
        /// Sent with every call (credentials, `User-Agent`). Default: none.
        public var headers = HTTPHeaders()
        /// TLS settings for an `https` server (trust roots, client certificate). Default: the
        /// system's trust roots.
        public var tlsConfiguration: TLSConfiguration?

        /// The API `service` at `baseURL`, every other setting at its default.
        public init(service: String, baseURL: String) {
            self.service = service
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        }
    }

    /// An answer: its status and body, and the path it answers.
    public struct Answer: Sendable {
        /// The HTTP status.
        public var status: Int
        /// The whole body.
        public var body: [UInt8]
        /// The path of the call, for messages.
        public var path: String
        /// The response's headers.
        public var headers: HTTPHeaders = [:]
    }

    /// The most bytes of a refusal's body kept in ``HTTPCallFailure/body`` and quoted in reasons.
    public static let refusalBytes = 4096

    /// Where the API is and how to talk to it.
    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let logger: Logger

    /// A client of the API in `configuration`, over `httpClient` (default: ``AsyncHTTPClient/HTTPClient/baton``).
    public init(configuration: Configuration, httpClient: HTTPClient = .baton, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    // MARK: - Calls

    /// Sends `method path?query` and returns the answer.
    ///
    /// - Parameters:
    ///   - path: the path under ``Configuration/baseURL``, its segments escaped by the caller
    ///     (``segment(_:)``).
    ///   - body: the request body, sent with `contentType`.
    ///   - headers: sent with this call only, after the configured ones.
    ///   - expect: the statuses that are an answer; any other is a `.refused` failure. `nil`
    ///     takes every status as an answer.
    ///   - maxBytes: the most bytes read. Default: ``Configuration/maxResponseBytes``.
    ///   - timeout: this call's limit. Default: ``Configuration/requestTimeout``.
    /// - Throws: ``HTTPCallFailure``.
    public func send(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: [UInt8]? = nil,
        contentType: String = "application/json", accept: String = "application/json", headers: HTTPHeaders = [:],
        expect: Set<Int>? = [200], maxBytes: Int? = nil, timeout: Duration? = nil
    ) async throws(HTTPCallFailure) -> Answer {
        let limit = maxBytes ?? configuration.maxResponseBytes
        let request = makeRequest(method, path, query: query, body: body, contentType: contentType, accept: accept)
        let started = ContinuousClock.now
        let answer: Answer
        do {
            answer = try await exchange(request, method: method, path: path, headers: headers, timeout: timeout) {
                response in
                Answer(
                    status: Int(response.status.code),
                    body: Array(buffer: try await response.body.collect(upTo: limit)), path: path,
                    headers: response.headers)
            }
        } catch {
            record(method, path, since: started, outcome: error.kind.label)
            throw error
        }
        record(method, path, since: started, outcome: "\(answer.status / 100)xx")
        logger.debug(
            "http call",
            metadata: [
                LogKeys.service: "\(configuration.service)", LogKeys.method: "\(method)", LogKeys.path: "\(path)",
                LogKeys.status: "\(answer.status)",
            ])
        if let expect, !expect.contains(answer.status) { throw refusal(answer, method: method) }
        return answer
    }

    /// Sends `GET path` and feeds the body to `sink` chunk by chunk as it arrives, all within
    /// the timeout, for answers too long to hold (logs); a status other than 200 is a
    /// `.refused` failure.
    ///
    /// - Parameters:
    ///   - timeout: the limit of the whole exchange. Default: ``Configuration/requestTimeout``.
    /// - Returns: `sink` after the last chunk.
    /// - Throws: ``HTTPCallFailure``; what `feed` throws, as a `.badResponse` failure.
    public func stream<Sink: Sendable>(
        _ path: String, query: [String: String] = [:], accept: String = "application/json", timeout: Duration? = nil,
        into sink: Sink, feed: @escaping @Sendable (inout Sink, ByteBuffer) throws -> Void
    ) async throws(HTTPCallFailure) -> Sink {
        let request = makeRequest(.GET, path, query: query, body: nil, contentType: "", accept: accept)
        let started = ContinuousClock.now
        let result: Streamed<Sink>
        do {
            result = try await exchange(request, method: .GET, path: path, headers: [:], timeout: timeout) {
                response -> Streamed<Sink> in
                guard response.status == .ok else {
                    let body = try await response.body.collect(upTo: Self.refusalBytes * 256)
                    return .refused(Answer(status: Int(response.status.code), body: Array(buffer: body), path: path))
                }
                var sink = sink
                for try await chunk in response.body {
                    do {
                        try feed(&sink, chunk)
                    } catch {
                        throw Consumer(error: error)
                    }
                }
                return .read(sink)
            }
        } catch {
            record(.GET, path, since: started, outcome: error.kind.label)
            throw error
        }
        switch result {
        case .read(let sink):
            record(.GET, path, since: started, outcome: "2xx")
            return sink
        case .refused(let answer):
            record(.GET, path, since: started, outcome: "\(answer.status / 100)xx")
            throw refusal(answer, method: .GET)
        }
    }

    /// Decodes a 2xx answer's body as `T`.
    ///
    /// - Throws: ``HTTPCallFailure`` `.badResponse`, quoting the start of the body.
    public func decode<T: Decodable>(_ type: T.Type, from answer: Answer) throws(HTTPCallFailure) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(answer.body))
        } catch {
            let quoted = String(decoding: answer.body.prefix(300), as: UTF8.self)
            throw HTTPCallFailure(
                .badResponse,
                reason: "\(configuration.service)'s answer to \(answer.path) is not a \(T.self): \(quoted)",
                status: answer.status)
        }
    }

    // MARK: - Escaping

    /// Escapes one path segment (a name or id), `/` included.
    public static func segment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
            ?? value
    }

    /// `?k=v&…` with keys in order and values escaped as RFC 3986 unreserved characters; empty
    /// for no query.
    public static func queryString(_ query: [String: String]) -> String {
        guard !query.isEmpty else { return "" }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let pairs = query.sorted { $0.key < $1.key }.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }
        return "?" + pairs.joined(separator: "&")
    }

    // MARK: - Metrics

    /// The endpoints seen, for the bounded `endpoint` label.
    private static let endpoints = HTTPEndpointLabel()

    /// Counts a call and its time: `outcome` is the status class (`2xx`) or the failure's kind.
    private func record(_ method: HTTPMethod, _ path: String, since started: ContinuousClock.Instant, outcome: String) {
        let service = configuration.service
        let endpoint = Self.endpoints.label(service: service, method: "\(method)", path: path)
        Counter(
            label: MetricCatalog.httpRequests.name,
            dimensions: [("service", service), ("endpoint", endpoint), ("outcome", outcome)]
        ).increment()
        let elapsed = ContinuousClock.now - started
        Metrics.Timer(
            label: MetricCatalog.httpRequestDuration.name, dimensions: [("service", service), ("endpoint", endpoint)]
        ).recordNanoseconds(Int64((elapsed / .nanoseconds(1)).rounded()))
    }

    // MARK: - Exchange

    /// How a stream ended: read to its end into the sink, or refused.
    private enum Streamed<Sink: Sendable>: Sendable {
        case read(Sink)
        case refused(Answer)
    }

    /// An error thrown by a stream's consumer, told apart from the transport's.
    private struct Consumer: Error { var error: any Error }
    private struct TimedOut: Error {}

    private func makeRequest(
        _ method: HTTPMethod, _ path: String, query: [String: String], body: [UInt8]?, contentType: String,
        accept: String
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: configuration.baseURL + path + Self.queryString(query))
        request.method = method
        request.tlsConfiguration = configuration.tlsConfiguration
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(contentsOf: configuration.headers)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    /// The `.refused` failure of `answer` to `method`, quoting the start of its body.
    private func refusal(_ answer: Answer, method: HTTPMethod) -> HTTPCallFailure {
        let kept = Array(answer.body.prefix(Self.refusalBytes))
        return HTTPCallFailure(
            .refused,
            reason:
                "\(configuration.service) refused \(method) \(answer.path): \(String(decoding: kept, as: UTF8.self))",
            status: answer.status, body: kept)
    }

    /// Sends `request` and runs `read` on the answer, all within the timeout.
    private func exchange<Result: Sendable>(
        _ request: HTTPClientRequest, method: HTTPMethod, path: String, headers: HTTPHeaders, timeout: Duration?,
        read: @escaping @Sendable (HTTPClientResponse) async throws -> Result
    ) async throws(HTTPCallFailure) -> Result {
        var request = request
        request.headers.add(contentsOf: headers)
        // Within traced work (a run's), a client span per call, named by the endpoint's template
        // (never by ids); the callee hears of it through `traceparent`. Background polls outside
        // any run start no traces of their own.
        let span = ServiceContext.current.map {
            startSpan(HTTPEndpointLabel.template(method: "\(method)", path: path), context: $0, ofKind: .client)
        }
        defer { span?.end() }
        if let span {
            span.attributes["http.request.method"] = "\(method)"
            span.attributes["server.address"] = configuration.service
            InstrumentationSystem.instrument.inject(span.context, into: &request.headers, using: HTTPHeadersInjector())
        }
        let timeout = timeout ?? configuration.requestTimeout
        let httpClient = httpClient
        let logger = logger
        let call = "\(configuration.service) at \(configuration.baseURL) did not answer \(method) \(path)"
        do {
            return try await withThrowingTaskGroup(of: Result?.self) { [request] group in
                group.addTask {
                    let deadline = NIODeadline.now() + .milliseconds(timeout.milliseconds)
                    let response = try await httpClient.execute(request, deadline: deadline, logger: logger)
                    span?.attributes["http.response.status_code"] = Int(response.status.code)
                    return try await read(response)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let result = first else { throw TimedOut() }
                return result
            }
        } catch {
            let failure = Self.failure(error, method: method, path: path, call: call, timeout: timeout)
            span?.recordError(failure)
            throw failure
        }
    }

    /// The ``HTTPCallFailure`` of a call that threw `error`.
    private static func failure(
        _ error: any Error, method: HTTPMethod, path: String, call: String, timeout: Duration
    ) -> HTTPCallFailure {
        switch error {
        case is NIOTooManyBytesError:
            HTTPCallFailure(.badResponse, reason: "the answer to \(method) \(path) is larger than this client reads")
        case let error where error is TimedOut || (error as? HTTPClientError) == .deadlineExceeded:
            HTTPCallFailure(.unavailable, reason: "\(call) within \(timeout)")
        case let consumer as Consumer:
            HTTPCallFailure(.badResponse, reason: "the answer to \(method) \(path): \(consumer.error)")
        default:
            HTTPCallFailure(.unavailable, reason: "\(call): \(error)")
        }
    }
}

/// Trace headers into an HTTP request's headers.
private struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}
