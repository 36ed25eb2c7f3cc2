import AsyncHTTPClient
import BatonCore
import BatonHTTPClient
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
    /// The API server and credentials.
    public let configuration: KubernetesConfiguration
    private let tokens: TokenSource
    private let http: JSONHTTPClient

    /// A client of the API server in `configuration`.
    ///
    /// - Parameters:
    ///   - httpClient: the client requests go through; the cluster's CA and client certificate
    ///     travel with each request, so the shared client serves any cluster.
    /// - Throws: `KubernetesError` with code `configuration` when the CA, client certificate or
    ///   key is not valid PEM.
    public init(
        configuration: KubernetesConfiguration, httpClient: HTTPClient = .baton, logger: Logger
    ) throws(KubernetesError) {
        self.configuration = configuration
        var endpoint = JSONHTTPClient.Configuration(service: "Kubernetes", baseURL: configuration.server)
        endpoint.requestTimeout = configuration.requestTimeout
        endpoint.maxResponseBytes = configuration.maxResponseBytes
        endpoint.tlsConfiguration = try Self.makeTLSConfiguration(configuration)
        endpoint.headers.add(name: "User-Agent", value: "baton")
        self.http = JSONHTTPClient(configuration: endpoint, httpClient: httpClient, logger: logger)
        self.tokens = TokenSource(configuration.credentials)
    }

    // MARK: - API

    /// `GET path`, decoded as `T`.
    ///
    /// - Throws: `KubernetesError`; code `notFound` for HTTP 404.
    public func get<T: Decodable>(_ type: T.Type = T.self, _ path: String, query: [String: String] = [:])
        async throws(KubernetesError) -> T
    {
        try decode(T.self, from: try await call(.GET, path, query: query))
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
        return try decode(T.self, from: try await call(.POST, path, body: body, expect: [200, 201, 202]))
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
            T.self, from: try await call(.PATCH, path, body: bytes, contentType: patchType.contentType))
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
        let answer = try await call(.GET, path, query: query, accept: "text/plain, */*", maxBytes: maxBytes)
        return String(decoding: answer.body, as: UTF8.self)
    }

    // MARK: - HTTP

    private func call(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: [UInt8]? = nil,
        contentType: String = "application/json", expect: Set<Int> = [200], accept: String = "application/json",
        maxBytes: Int? = nil
    ) async throws(KubernetesError) -> JSONHTTPClient.Answer {
        var headers = HTTPHeaders()
        if let token = try tokens.token() { headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            return try await http.send(
                method, path, query: query, body: body, contentType: contentType, accept: accept, headers: headers,
                expect: expect, maxBytes: maxBytes)
        } catch {
            throw KubernetesError(error, method: method, path: path)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from answer: JSONHTTPClient.Answer) throws(KubernetesError) -> T {
        do {
            return try http.decode(T.self, from: answer)
        } catch {
            throw KubernetesError(error, method: .GET, path: answer.path)
        }
    }

    /// Escapes one path segment (a namespace or object name).
    package static func segment(_ value: String) -> String { JSONHTTPClient.segment(value) }

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
