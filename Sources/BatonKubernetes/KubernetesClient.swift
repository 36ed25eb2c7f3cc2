import AsyncHTTPClient
import BatonCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// A small client of the Kubernetes REST API: get, create, patch and delete objects as JSON, and
/// read a pod's log.
///
/// Every call has a timeout covering the whole exchange and reads at most
/// `configuration.maxResponseBytes`; errors carry the API server's `Status.message`. The bearer
/// token is sent on every request and never logged.
public struct KubernetesClient: Sendable {
    public let configuration: KubernetesConfiguration
    private let tlsConfiguration: TLSConfiguration?
    private let tokens: TokenSource
    private let httpClient: HTTPClient
    private let logger: Logger

    /// - Parameters:
    ///   - httpClient: the client requests go through; the cluster's CA and client certificate
    ///     travel with each request, so the shared client serves any cluster.
    /// - Throws: `KubernetesError` with code `configuration` when the CA, client certificate or
    ///   key is not valid PEM.
    public init(
        configuration: KubernetesConfiguration, httpClient: HTTPClient = .shared, logger: Logger
    ) throws(KubernetesError) {
        self.configuration = configuration
        self.tlsConfiguration = try Self.makeTLSConfiguration(configuration)
        self.tokens = TokenSource(configuration.credentials)
        self.httpClient = httpClient
        self.logger = logger
    }

    // MARK: - API

    /// `GET path`, decoded as `T`.
    ///
    /// - Throws: `KubernetesError`; code `notFound` for HTTP 404.
    public func get<T: Decodable>(_ type: T.Type = T.self, _ path: String, query: [String: String] = [:])
        async throws(KubernetesError) -> T
    {
        try decode(T.self, from: try await call(.GET, path, query: query), path: path)
    }

    /// `POST path` with `object` as JSON; returns the created object.
    ///
    /// - Throws: `KubernetesError`; code `alreadyExists` for HTTP 409 `AlreadyExists`.
    public func create<T: Decodable>(_ type: T.Type = T.self, _ path: String, object: some Encodable)
        async throws(KubernetesError) -> T
    {
        let body: [UInt8]
        do {
            body = try CloudEvent.encode(object)
        } catch {
            throw .badResponse("cannot encode the object for POST \(path): \(error)", status: nil)
        }
        return try decode(T.self, from: try await call(.POST, path, body: body, expect: [200, 201, 202]), path: path)
    }

    /// How a `PATCH` body is read (its `Content-Type`).
    ///
    /// Custom resources (RayJobs, Argo Rollouts) accept `merge` and `json`, not strategic merge.
    public struct PatchType: Hashable, Sendable, CustomStringConvertible {
        /// The `Content-Type` header sent with the body.
        public let contentType: String
        /// RFC 7386: objects merge, lists and scalars in the body replace what is there.
        public static let merge = PatchType(contentType: "application/merge-patch+json")
        /// RFC 6902: a list of operations (`test`, `add`, `replace`, `remove`) on JSON pointers.
        public static let json = PatchType(contentType: "application/json-patch+json")
        public var description: String { contentType }
    }

    /// `PATCH path` with `body` read as `type`; returns the patched object.
    ///
    /// - Throws: `KubernetesError`; code `notFound` for HTTP 404, `rejected` when a JSON patch's
    ///   `test` fails (HTTP 422) or the body is refused.
    public func patch<T: Decodable>(
        _ type: T.Type = T.self, _ path: String, as patchType: PatchType, body: some Encodable
    )
        async throws(KubernetesError) -> T
    {
        let bytes: [UInt8]
        do {
            bytes = try CloudEvent.encode(body)
        } catch {
            throw .badResponse("cannot encode the body of PATCH \(path): \(error)", status: nil)
        }
        return try decode(
            T.self, from: try await call(.PATCH, path, body: bytes, contentType: patchType.contentType), path: path)
    }

    /// `DELETE path` with a propagation policy (`Background`: dependents are deleted after the
    /// object, without waiting).
    ///
    /// - Throws: `KubernetesError`; code `notFound` when the object is already gone.
    public func delete(_ path: String, propagationPolicy: String = "Background") async throws(KubernetesError) {
        _ = try await call(.DELETE, path, query: ["propagationPolicy": propagationPolicy], expect: [200, 202])
    }

    /// The text at `path`, e.g. a pod's log (`/api/v1/namespaces/{ns}/pods/{pod}/log`).
    ///
    /// - Parameter maxBytes: the most bytes read. Default: `configuration.maxResponseBytes`.
    public func text(_ path: String, query: [String: String] = [:], maxBytes: Int? = nil)
        async throws(KubernetesError) -> String
    {
        let bytes = try await call(.GET, path, query: query, accept: "text/plain, */*", maxBytes: maxBytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - HTTP

    private func call(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: [UInt8]? = nil,
        contentType: String = "application/json", expect: Set<Int> = [200], accept: String = "application/json",
        maxBytes: Int? = nil
    ) async throws(KubernetesError) -> [UInt8] {
        var request = HTTPClientRequest(url: configuration.server + path + Self.queryString(query))
        request.method = method
        request.tlsConfiguration = tlsConfiguration
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "baton")
        if let token = try tokens.token() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let (status, bytes) = try await exchange(
            request, method: method, path: path, limit: maxBytes ?? configuration.maxResponseBytes)
        logger.debug("kubernetes call", metadata: ["method": "\(method)", "path": "\(path)", "status": "\(status)"])
        guard expect.contains(status) else {
            let answer = Self.statusAnswer(bytes)
            let message = answer.message ?? String(decoding: bytes.prefix(1024), as: UTF8.self)
            throw .rejected(
                "Kubernetes refused \(method) \(path): \(message)", status: status, apiReason: answer.reason)
        }
        return bytes
    }

    /// Sends the request and reads the answer, all within `requestTimeout`.
    private func exchange(_ request: HTTPClientRequest, method: HTTPMethod, path: String, limit: Int)
        async throws(KubernetesError) -> (Int, [UInt8])
    {
        let timeout = configuration.requestTimeout
        let httpClient = httpClient
        let logger = logger
        do {
            return try await withThrowingTaskGroup(of: (Int, [UInt8])?.self) { group in
                group.addTask {
                    let deadline = NIODeadline.now() + .milliseconds(timeout.milliseconds)
                    let response = try await httpClient.execute(request, deadline: deadline, logger: logger)
                    return (Int(response.status.code), Array(buffer: try await response.body.collect(upTo: limit)))
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let answer = first else { throw TimedOut() }
                return answer
            }
        } catch is NIOTooManyBytesError {
            throw .badResponse("the answer to \(method) \(path) is larger than \(limit) bytes", status: nil)
        } catch is TimedOut {
            throw .unavailable(
                "Kubernetes at \(configuration.server) did not answer \(method) \(path) within \(timeout)")
        } catch {
            throw .unavailable("Kubernetes at \(configuration.server) did not answer \(method) \(path): \(error)")
        }
    }

    private struct TimedOut: Error {}

    private func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], path: String) throws(KubernetesError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw .badResponse(
                "Kubernetes' answer to \(path) is not a \(T.self): \(String(decoding: bytes.prefix(300), as: UTF8.self))",
                status: 200)
        }
    }

    /// The `message` and `reason` of a `Status` answer (`{"kind":"Status","message":...}`).
    static func statusAnswer(_ bytes: [UInt8]) -> (message: String?, reason: String?) {
        struct Status: Decodable {
            var message: String?
            var reason: String?
        }
        let status = try? JSONDecoder().decode(Status.self, from: Data(bytes))
        return (status?.message, status?.reason)
    }

    static func queryString(_ query: [String: String]) -> String {
        guard !query.isEmpty else { return "" }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let pairs = query.sorted { $0.key < $1.key }.map { key, value in
            let escaped = value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
            return "\(key)=\(escaped)"
        }
        return "?" + pairs.joined(separator: "&")
    }

    /// Escapes one path segment (a namespace or object name).
    package static func segment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
            ?? value
    }

    // MARK: - TLS

    private static func makeTLSConfiguration(_ configuration: KubernetesConfiguration) throws(KubernetesError)
        -> TLSConfiguration?
    {
        guard configuration.server.lowercased().hasPrefix("https://") else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let pem = configuration.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(pem))
            }
            if let certificate = configuration.clientCertificatePEM {
                guard let key = configuration.clientKeyPEM else {
                    throw KubernetesError.configuration("a client certificate needs its client key")
                }
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw .configuration("the cluster CA or client certificate is not valid PEM: \(error)")
        }
        if configuration.insecureSkipTLSVerify { tls.certificateVerification = .none }
        return tls
    }
}

// MARK: - Token

/// The bearer token, re-read from its file at most once a minute (kubelet rotates projected
/// service-account tokens well before they expire).
private final class TokenSource: Sendable {
    private struct Cached {
        var token: String
        var readAt: ContinuousClock.Instant
    }

    private let credentials: KubernetesConfiguration.Credentials
    private let cache = NIOLockedValueBox<Cached?>(nil)

    init(_ credentials: KubernetesConfiguration.Credentials) { self.credentials = credentials }

    func token() throws(KubernetesError) -> String? {
        switch credentials {
        case .none: return nil
        case .bearerToken(let token): return token
        case .tokenFile(let path):
            let now = ContinuousClock.now
            if let cached = cache.withLockedValue({ $0 }), now - cached.readAt < .seconds(60) { return cached.token }
            let bytes = try KubernetesConfiguration.readFile(path, what: "the bearer token")
            let token = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            cache.withLockedValue { $0 = Cached(token: token, readAt: now) }
            return token
        }
    }
}
