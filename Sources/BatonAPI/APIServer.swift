import BatonCore
import BatonStore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle

/// The PEM files the API serves HTTPS with (`BATON_API_TLS_CERT`, `BATON_API_TLS_KEY`).
public struct TLSFiles: Sendable {
    /// The certificate chain, leaf first.
    public var certificateFile: String
    /// The private key.
    public var keyFile: String

    /// HTTPS with the chain in `certificateFile` and the key in `keyFile`.
    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// TLS files that cannot be used.
    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }
}

/// The `api` role: Baton's HTTP API (`openapi.yaml`), with bearer-token authentication,
/// problem documents for every error, and live run events.
public struct APIServer: Service {
    /// Where the API listens and what it allows.
    public struct Configuration: Sendable {
        /// The address to bind, e.g. `127.0.0.1` or `0.0.0.0`.
        public var host: String
        /// The port.
        public var port: Int
        /// The inbox consumer name of the coordinator, whose verdicts on requests the API reports.
        public var coordinatorConsumer: String
        /// The CloudEvents `source` of events the API writes. Default: `baton/api`.
        public var eventSource = "baton/api"
        /// The largest request body accepted. Default: 1 MiB.
        public var maximumBodyBytes = 1 << 20
        /// The most event streams open at once. Default: 1000.
        public var maximumEventStreams = 1000
        /// How long event streams stay open and silent.
        var eventStreamLimits = RunEventStream.Limits()
        /// How long a token check is remembered (a revoked token works at most this long). Default: 10 s.
        public var tokenCacheDuration: Duration = .seconds(10)
        /// The Ray dashboard the console links jobs to, e.g. `http://ray-head:8265`; no links when nil.
        public var rayDashboardURL: String?
        /// What a spec may ask for (`BATON_SPEC_POLICY` over the path roots), applied before a
        /// request is accepted; the coordinator applies it again. Nil: only the coordinator does.
        public var specPolicy: SpecPolicy?
        /// Where stage logs are read (the Ray launcher); without one, log requests answer 503.
        public var jobLogs: (any JobLogSource)?
        /// The certificate and key to serve HTTPS with; plain HTTP when nil (TLS ends at an ingress).
        public var tls: TLSFiles?
        /// The OIDC issuer whose bearer JWTs are accepted besides Baton's tokens; none when nil.
        public var oidc: OIDCSettings?
        /// What replays dead letters (the process's Kafka producer); without one, replays answer 503.
        public var deadLetterReplayer: (any DeadLetterReplaying)?
        /// The most followed logs open at once (each reads its job's log every second). Default: 100.
        public var maximumLogFollows = 100

        /// A configuration listening on `host:port`, with default limits.
        public init(host: String, port: Int, coordinatorConsumer: String) {
            self.host = host
            self.port = port
            self.coordinatorConsumer = coordinatorConsumer
        }
    }

    private let application: Application<RouterResponder<BasicRequestContext>>
    private let feed: RunEventFeed

    /// An API (and the web console under `/ui`) over `store`, not yet listening.
    public init(configuration: Configuration, store: BatonStore, logger: Logger) async throws {
        let feed = RunEventFeed(runs: store.runs, messaging: store.messaging, logger: logger)
        let verifier = TokenVerifier(
            access: store.access, ttl: configuration.tokenCacheDuration,
            oidc: configuration.oidc.map { OIDCVerifier(configuration: $0, logger: logger) }, logger: logger)
        let router = Router()
        router.add(middleware: BodyLimitMiddleware(limit: configuration.maximumBodyBytes))
        let handlers = APIHandlers(
            store: store, feed: feed, logFollows: StreamSlots(limit: configuration.maximumLogFollows),
            configuration: configuration)
        try handlers.registerHandlers(
            on: router,
            middlewares: [
                ProblemMiddleware(logger: logger), AuthenticationMiddleware(verifier: verifier), EmptyBodyMiddleware(),
            ])
        try await Console.load(store: store, verifier: verifier, configuration: configuration, logger: logger)
            .register(on: router)
        self.feed = feed
        application = Application(
            router: router,
            server: try Self.server(configuration.tls),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "baton"),
            logger: logger)
    }

    /// Plain HTTP/1.1, or HTTPS with the certificate chain and key of `tls`.
    private static func server(_ tls: TLSFiles?) throws -> HTTPServerBuilder {
        guard let tls else { return .http1() }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tls.certificateFile)
            key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
        } catch {
            throw TLSFiles.Unreadable(
                description: "the API's TLS files (\(tls.certificateFile), \(tls.keyFile)) cannot be read: \(error)")
        }
        guard !chain.isEmpty else {
            throw TLSFiles.Unreadable(description: "\(tls.certificateFile) holds no PEM certificate")
        }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        return try .tls(.http1(), tlsConfiguration: configuration)
    }

    /// Serves until the enclosing service group shuts down gracefully.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await feed.run() }
            group.addTask { try await application.run() }
        }
    }
}
