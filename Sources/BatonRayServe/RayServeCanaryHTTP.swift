import AsyncHTTPClient
import BatonCore
import Logging
import NIOCore
import NIOHTTP1

/// The HTTP calls the Ray Serve canary makes to Serve's REST API and Prometheus: JSON in and
/// out, a timeout on every call, a bounded answer.
public struct RayServeCanaryHTTP: Sendable {
    /// The largest answer read, in bytes.
    static let maxResponseBytes = 8 << 20

    let httpClient: HTTPClient
    let timeout: Duration
    let logger: Logger

    public init(timeout: Duration, logger: Logger, httpClient: HTTPClient = .shared) {
        self.httpClient = httpClient
        self.timeout = timeout
        self.logger = logger
    }

    /// `GET url`: the status and body; throws only when there is no answer.
    ///
    /// - Parameter token: a bearer token for Ray's dashboard, sent as `Authorization` and
    ///   `X-Ray-Authorization` (as the Jobs client does); `nil` for Prometheus.
    public func get(_ url: String, token: String? = nil) async throws(RayServeCanaryError)
        -> (status: Int, body: [UInt8])
    {
        try await call(.GET, url, body: nil, token: token)
    }

    /// `PUT url` with a JSON body: the status and body; throws only when there is no answer
    /// within `timeout` (default: the client's).
    ///
    /// - Parameter token: a bearer token for Ray's dashboard, as for ``get(_:token:)``.
    public func put(
        _ url: String, json body: [UInt8], timeout: Duration? = nil, token: String? = nil
    ) async throws(RayServeCanaryError) -> (status: Int, body: [UInt8]) {
        try await call(.PUT, url, body: body, timeout: timeout, token: token)
    }

    private func call(
        _ method: HTTPMethod, _ url: String, body: [UInt8]?, timeout: Duration? = nil, token: String?
    ) async throws(RayServeCanaryError) -> (status: Int, body: [UInt8]) {
        let timeout = timeout ?? self.timeout
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let token {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "X-Ray-Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await httpClient.execute(
                request, timeout: .milliseconds(timeout.milliseconds), logger: logger)
            let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            return (Int(response.status.code), Array(buffer: bytes))
        } catch {
            throw .unavailable("\(method) \(url) got no answer: \(error)")
        }
    }
}
