import BatonCore
import BatonStore
import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle

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
        let verifier = TokenVerifier(access: store.access, ttl: configuration.tokenCacheDuration)
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
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "baton"),
            logger: logger)
    }

    /// Serves until the enclosing service group shuts down gracefully.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await feed.run() }
            group.addTask { try await application.run() }
        }
    }
}
