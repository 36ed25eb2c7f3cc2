import ArgumentParser
import BatonAPI
import BatonCommandLine
import BatonCore
import BatonEngine
import BatonKafka
import BatonMLflow
import BatonObservability
import BatonRay
import BatonStore
import Foundation
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run Baton's roles until SIGTERM/SIGINT.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var platforms: PlatformOptions

    @Option(
        help:
            "Comma-separated roles: coordinator, relay, worker, watcher, sweeper, mirror, api (env BATON_ROLES; default all)."
    )
    var roles: String?

    @Option(help: "Comma-separated worker pools (env BATON_POOLS; default default,cpu,gpu).")
    var pools: String?

    @Option(help: "Lease duration in seconds (env BATON_LEASE_SECONDS; default 30).")
    var leaseSeconds: Double?

    @Option(help: "Sweep interval in seconds (env BATON_SWEEP_SECONDS; default 5).")
    var sweepSeconds: Double?

    @Option(help: "Re-drive stuck events after this many seconds (env BATON_REDRIVE_SECONDS; default 30).")
    var redriveSeconds: Double?

    @Option(
        help:
            "Fail an attempt that waited this many seconds in a pool no live worker serves (env BATON_QUEUE_TIMEOUT_SECONDS; default 1800)."
    )
    var queueTimeoutSeconds: Double?

    @Option(help: "Most attempts executed at once by this worker (env BATON_WORKER_CONCURRENCY; default 32).")
    var workerConcurrency: Int?

    @Option(
        help: "host:port for /metrics, /healthz, /readyz, or 'off' (env BATON_METRICS_ADDRESS; default 127.0.0.1:9464)."
    )
    var metricsAddress: String?

    @Option(
        help: "host:port of the HTTP API (the api role), or 'off' (env BATON_API_ADDRESS; default 127.0.0.1:8088).")
    var apiAddress: String?

    @Option(
        help: "Seconds a graceful shutdown may take before roles are cancelled (env BATON_SHUTDOWN_SECONDS; 25)."
    )
    var shutdownSeconds: Double?

    /// How long cancelled roles get to end before the process aborts: a role that ignores
    /// cancellation must not keep a terminating pod (or a CI job) alive forever.
    static let maximumCancellation = Duration.seconds(10)

    func run() async throws {
        options.bootstrapLogging(defaultLevel: .info)
        let logger = Logger(label: "baton")
        let environment = GlobalOptions.environment
        var configuration = try options.engineConfiguration()
        configuration.rayLauncher = try platforms.makeRayLauncher()
        if let pools = pools ?? environment["BATON_POOLS"] {
            configuration.pools = pools.split(separator: ",").map(String.init)
        }
        if let seconds = try Self.seconds(leaseSeconds, "BATON_LEASE_SECONDS", environment) {
            configuration.leaseDuration = seconds
        }
        if let seconds = try Self.seconds(sweepSeconds, "BATON_SWEEP_SECONDS", environment) {
            configuration.sweepInterval = seconds
        }
        if let seconds = try Self.seconds(redriveSeconds, "BATON_REDRIVE_SECONDS", environment) {
            configuration.redriveAfter = seconds
        }
        if let seconds = try Self.seconds(nil, "BATON_REQUEST_REDRIVE_SECONDS", environment) {
            configuration.requestRedriveAfter = seconds
        }
        if let seconds = try Self.seconds(queueTimeoutSeconds, "BATON_QUEUE_TIMEOUT_SECONDS", environment) {
            configuration.queueTimeout = seconds
        }
        if let seconds = try Self.seconds(nil, "BATON_WORKER_HEARTBEAT_SECONDS", environment) {
            configuration.workerHeartbeatInterval = seconds
        }
        if let seconds = try Self.seconds(nil, "BATON_TOPIC_CHECK_SECONDS", environment) {
            configuration.topicCheckInterval = seconds
        }
        if let text = environment["BATON_SERVE_RESTORE_SECONDS"], Double(text) == 0 {
            configuration.serveRestoreInterval = nil
        } else if let seconds = try Self.seconds(nil, "BATON_SERVE_RESTORE_SECONDS", environment) {
            configuration.serveRestoreInterval = seconds
        }
        if let seconds = try Self.seconds(nil, "BATON_STATISTICS_SECONDS", environment) {
            configuration.statisticsInterval = seconds
        }
        if let seconds = try Self.seconds(nil, "BATON_STALLED_RUN_SECONDS", environment) {
            configuration.stalledRunAfter = seconds
        }
        if let concurrency = workerConcurrency ?? environment["BATON_WORKER_CONCURRENCY"].flatMap(Int.init) {
            configuration.workerConcurrency = concurrency
        }
        switch environment["BATON_DIRECT_HANDOFF"] {
        case nil, "on": configuration.directHandOff = true
        case "off": configuration.directHandOff = false
        case let other?: throw ValidationError("BATON_DIRECT_HANDOFF must be on or off, not '\(other.prefix(20))'")
        }
        let roleNames = (roles ?? environment["BATON_ROLES"])?.split(separator: ",").map(String.init)
        let selected = try roleNames.map { try $0.map(Self.parseRole) } ?? ServeRole.allCases

        try await Self.requireSchema(options, logger: logger)
        let database = try DatabaseConfiguration(url: try options.resolvedDatabaseURL())
        let client = PostgresClient(configuration: database.makeClientConfiguration(), backgroundLogger: logger)
        let store = BatonStore(
            client: client, topics: configuration.topics, source: "baton/\(configuration.instanceID)", logger: logger)
        configuration.rolloutDrivers = try platforms.rolloutDrivers(
            jobsRoot: configuration.jobsRoot, lock: store.messaging, logger: logger)
        let producer = try Runtime.makeProducer(options, logger: logger, createsTopics: false)
        if let factor = environment["BATON_TOPIC_REPLICATION_FACTOR"] {
            guard let value = Int16(factor), value >= 1 else {
                throw ValidationError("BATON_TOPIC_REPLICATION_FACTOR must be a whole number of replicas, at least 1")
            }
            configuration.topicReplicationFactor = value
        }
        if let replicas = environment["BATON_TOPIC_MIN_INSYNC_REPLICAS"] {
            guard let value = Int(replicas), value >= 1 else {
                throw ValidationError("BATON_TOPIC_MIN_INSYNC_REPLICAS must be a whole number, at least 1")
            }
            configuration.topicMinInsyncReplicas = value
        }
        let topics = try TopicProvisioner(configuration: configuration, logger: logger)
        try await topics.provision()

        // Named for the shutdown log: which role a slow graceful shutdown waits on.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: client, serviceName: "postgres"),
            .init(service: ProducerService(producer: producer, logger: logger), serviceName: "producer"),
            .init(service: topics, serviceName: "topics"),
        ]
        if let traces = try TraceExport.bootstrap(environment: environment, logger: logger) {
            services.append(.init(service: traces, serviceName: "traces"))
        }
        let metricsAddress = metricsAddress ?? environment["BATON_METRICS_ADDRESS"] ?? "127.0.0.1:9464"
        if metricsAddress != "off" {
            let (host, port) = try Self.parseAddress(metricsAddress)
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory.baton(registry: registry))
            services.append(
                .init(
                    service: ObservabilityServer(
                        host: host, port: port, registry: registry,
                        isReady: { await Self.isReady(store: store, producer: producer) },
                        logger: logger),
                    serviceName: "observability"))
        }
        if selected.contains(.relay) {
            services.append(
                .init(
                    service: OutboxRelay(
                        configuration: configuration, messaging: store.messaging, producer: producer, logger: logger),
                    serviceName: "relay"))
        }
        if selected.contains(.coordinator) {
            services.append(
                .init(
                    service: Scheduler(configuration: configuration, runs: store.runs, logger: logger),
                    serviceName: "scheduler"))
            services.append(
                .init(
                    service: try Notifier(
                        configuration: configuration, runs: store.runs, messaging: store.messaging,
                        producer: producer, environment: environment, logger: logger),
                    serviceName: "notifier"))
        }
        if selected.contains(.coordinator) {
            services.append(
                .init(
                    service: try Coordinator(
                        configuration: configuration, runs: store.runs, messaging: store.messaging,
                        producer: producer, logger: logger),
                    serviceName: "coordinator"))
        }
        if selected.contains(.worker) {
            for pool in configuration.pools {
                services.append(
                    .init(
                        service: try StageWorker(
                            pool: pool, configuration: configuration, attempts: store.attempts, runs: store.runs,
                            registry: store.registry, messaging: store.messaging, producer: producer,
                            logger: logger),
                        serviceName: "worker.\(pool)"))
            }
        }
        if selected.contains(.watcher), let launcher = configuration.rayLauncher {
            services.append(
                .init(
                    service: JobWatcher(
                        configuration: configuration, launcher: launcher, attempts: store.attempts, logger: logger),
                    serviceName: "watcher"))
        }
        if selected.contains(.sweeper) {
            services.append(
                .init(
                    service: Sweeper(
                        configuration: configuration, attempts: store.attempts, messaging: store.messaging,
                        registry: store.registry, logger: logger),
                    serviceName: "sweeper"))
        }
        if selected.contains(.api), var api = try apiConfiguration(environment, instanceID: configuration.instanceID) {
            api.jobLogs = configuration.rayLauncher.map(RayJobLogSource.init)
            api.specPolicy = configuration.specPolicy
            api.deadLetterReplayer = DeadLetterReplayer(messaging: store.messaging, producer: producer)
            services.append(
                .init(
                    service: try await APIServer(configuration: api, store: store, logger: Logger(label: "baton.api")),
                    serviceName: "api"))
        }
        if selected.contains(.mirror), let mirror = try Self.mirrorConfiguration(environment, explicit: roleNames) {
            services.append(
                .init(
                    service: MLflowMirror(configuration: mirror, mirror: store.mirror, logger: logger),
                    serviceName: "mirror"))
        }
        logger.info(
            "baton serving",
            metadata: [
                LogKeys.roles: "\(selected.map(\.rawValue).joined(separator: ","))",
                LogKeys.pools: "\(configuration.pools.joined(separator: ","))",
                LogKeys.instance: "\(configuration.instanceID)",
            ])
        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Self.lifecycleLogger(logger))
        groupConfiguration.maximumGracefulShutdownDuration =
            try Self.seconds(shutdownSeconds, "BATON_SHUTDOWN_SECONDS", environment) ?? .seconds(25)
        groupConfiguration.maximumCancellationDuration = Self.maximumCancellation
        try await ServiceGroup(configuration: groupConfiguration).run()
    }

    /// The service group's logger: its start and shutdown steps (which role it waits on, which
    /// one ran past the graceful shutdown) are debug lines, shown whenever `serve` logs at info.
    private static func lifecycleLogger(_ logger: Logger) -> Logger {
        var lifecycle = Logger(label: "baton.lifecycle")
        if logger.logLevel <= .info { lifecycle.logLevel = .debug }
        return lifecycle
    }

    /// Refuses to start on a database whose schema is behind this build, rather than run roles
    /// whose statements would fail on every try. A database that does not answer within 10 s
    /// is left to the roles, which wait for it.
    private static func requireSchema(_ options: GlobalOptions, logger: Logger) async throws {
        let checked = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await Runtime.withStore(options, logger: logger) {
                        try await $0.requireSchema()
                    }
                } catch let error as StoreError {
                    throw error
                } catch {
                    logger.warning(
                        "could not check the database schema; starting anyway",
                        metadata: [LogKeys.error: "\(describeError(error))"])
                }
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        if !checked { logger.warning("the database did not answer the schema check within 10 s; starting anyway") }
    }

    /// The mirror's settings from `BATON_MLFLOW_*` and MLflow's own `MLFLOW_TRACKING_*` variables;
    /// `nil` (no mirror) without `BATON_MLFLOW_URI`, which is an error only if the role was asked for.
    private static func mirrorConfiguration(
        _ environment: [String: String], explicit roles: [String]?
    ) throws -> MLflowMirror.Configuration? {
        guard let uri = environment["BATON_MLFLOW_URI"], !uri.isEmpty else {
            if roles != nil { throw ValidationError("the mirror role needs BATON_MLFLOW_URI (the MLflow server)") }
            return nil
        }
        var authorization: MLflowClient.Authorization?
        if let token = environment["MLFLOW_TRACKING_TOKEN"], !token.isEmpty {
            authorization = .bearer(token)
        } else if let username = environment["MLFLOW_TRACKING_USERNAME"],
            let password = environment["MLFLOW_TRACKING_PASSWORD"]
        {
            authorization = .basic(username: username, password: password)
        }
        var client = MLflowClient.Configuration(trackingURI: uri, authorization: authorization)
        if let seconds = try Self.seconds(nil, "BATON_MLFLOW_TIMEOUT_SECONDS", environment) {
            client.requestTimeout = seconds
        }
        var configuration = MLflowMirror.Configuration(client: client)
        if let seconds = try Self.seconds(nil, "BATON_MLFLOW_POLL_SECONDS", environment) {
            configuration.pollInterval = seconds
        }
        if let prefix = environment["BATON_MLFLOW_EXPERIMENT_PREFIX"] { configuration.experimentPrefix = prefix }
        if let text = environment["BATON_MLFLOW_CONCURRENCY"] {
            guard let calls = Int(text), (1...64).contains(calls) else {
                throw ValidationError("BATON_MLFLOW_CONCURRENCY must be a whole number from 1 to 64, not '\(text)'")
            }
            configuration.concurrency = calls
        }
        if let text = environment["BATON_MLFLOW_RUN_CONCURRENCY"] {
            guard let runs = Int(text), (1...32).contains(runs) else {
                throw ValidationError("BATON_MLFLOW_RUN_CONCURRENCY must be a whole number from 1 to 32, not '\(text)'")
            }
            configuration.runConcurrency = runs
        }
        return configuration
    }

    /// The API's settings from `--api-address` and `BATON_API_*`; nil when the address is `off`.
    private func apiConfiguration(_ environment: [String: String], instanceID: String) throws
        -> APIServer.Configuration?
    {
        let address = apiAddress ?? environment["BATON_API_ADDRESS"] ?? "127.0.0.1:8088"
        guard address != "off" else { return nil }
        let (host, port) = try Self.parseAddress(address)
        var api = APIServer.Configuration(
            host: host, port: port, coordinatorConsumer: EngineConfiguration.coordinatorConsumer)
        api.eventSource = "baton/api/\(instanceID)"
        api.rayDashboardURL = environment["BATON_RAY_DASHBOARD_URL"] ?? environment["BATON_RAY_ADDRESS"]
        if let text = environment["BATON_API_MAX_BODY_BYTES"] {
            guard let bytes = Int(text), bytes >= 1024, bytes <= 64 << 20 else {
                throw ValidationError("BATON_API_MAX_BODY_BYTES must be a number of bytes from 1024 to 67108864")
            }
            api.maximumBodyBytes = bytes
        }
        if let text = environment["BATON_API_MAX_EVENT_STREAMS"] {
            guard let streams = Int(text), streams >= 1 else {
                throw ValidationError("BATON_API_MAX_EVENT_STREAMS must be a whole number, at least 1")
            }
            api.maximumEventStreams = streams
        }
        if let text = environment["BATON_API_MAX_LOG_FOLLOWS"] {
            guard let follows = Int(text), follows >= 1 else {
                throw ValidationError("BATON_API_MAX_LOG_FOLLOWS must be a whole number, at least 1")
            }
            api.maximumLogFollows = follows
        }
        if let seconds = try Self.seconds(nil, "BATON_API_TOKEN_CACHE_SECONDS", environment) {
            api.tokenCacheDuration = seconds
        }
        api.oidc = try Self.oidcSettings(environment)
        switch (
            environment["BATON_API_TLS_CERT"].flatMap { $0.isEmpty ? nil : $0 },
            environment["BATON_API_TLS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        )
        {
        case (let certificate?, let key?): api.tls = TLSFiles(certificateFile: certificate, keyFile: key)
        case (nil, nil): break
        default: throw ValidationError("set both BATON_API_TLS_CERT and BATON_API_TLS_KEY (PEM files), or neither")
        }
        return api
    }

    /// The OIDC issuer of `BATON_OIDC_*`; nil without `BATON_OIDC_ISSUER`.
    private static func oidcSettings(_ environment: [String: String]) throws -> OIDCSettings? {
        guard let issuer = environment["BATON_OIDC_ISSUER"], !issuer.isEmpty else { return nil }
        guard issuer.hasPrefix("https://") || issuer.hasPrefix("http://") else {
            throw ValidationError("BATON_OIDC_ISSUER must be the issuer's URL, as in its tokens' iss")
        }
        guard let audience = environment["BATON_OIDC_AUDIENCE"], !audience.isEmpty else {
            throw ValidationError("BATON_OIDC_AUDIENCE is required with BATON_OIDC_ISSUER: the aud tokens must carry")
        }
        var settings = OIDCSettings(issuer: issuer, audience: audience)
        if let claim = environment["BATON_OIDC_IDENTITY_CLAIM"], !claim.isEmpty { settings.identityClaim = claim }
        if let claim = environment["BATON_OIDC_SCOPES_CLAIM"], !claim.isEmpty { settings.scopesClaim = claim }
        if let url = environment["BATON_OIDC_JWKS_URL"], !url.isEmpty { settings.jwksURL = url }
        if let client = environment["BATON_OIDC_CLIENT_ID"], !client.isEmpty {
            guard let console = environment["BATON_CONSOLE_URL"], console.hasPrefix("http") else {
                throw ValidationError(
                    "BATON_OIDC_CLIENT_ID needs BATON_CONSOLE_URL (the console's address, e.g. https://baton.example.com)"
                )
            }
            settings.clientID = client
            settings.consoleURL = console
            settings.clientSecret = environment["BATON_OIDC_CLIENT_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        }
        return settings
    }

    /// Ready when the producer is usable and PostgreSQL answers within 2 seconds.
    private static func isReady(store: BatonStore, producer: KafkaProducer) async -> Bool {
        guard producer.isHealthy else { return false }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await store.ping()) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            let answer = await group.next() ?? false
            group.cancelAll()
            return answer
        }
    }

    /// A duration given in seconds by a flag or, without it, the environment variable `name`.
    ///
    /// - Throws: `ValidationError` naming the setting when the value is not a number of seconds
    ///   between 0.001 and one year (`nan`, `inf` and `1e30` included).
    static func seconds(_ flag: Double?, _ name: String, _ environment: [String: String]) throws -> Duration? {
        let value: Double
        if let flag {
            value = flag
        } else if let text = environment[name], !text.isEmpty {
            guard let parsed = Double(text) else {
                throw ValidationError("\(name)='\(text.prefix(40))' is not a number of seconds")
            }
            value = parsed
        } else {
            return nil
        }
        guard value.isFinite, value >= 0.001, value <= 365 * 86_400 else {
            throw ValidationError("\(name) must be between 0.001 and 31536000 seconds, not \(value)")
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    private static func parseAddress(_ address: String) throws -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port), colon != address.startIndex
        else {
            throw ValidationError("metrics address '\(address.prefix(80))' must be host:port or 'off'")
        }
        return (String(address[..<colon]), port)
    }

    private static func parseRole(_ name: String) throws -> ServeRole {
        guard let role = ServeRole(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError(
                "unknown role '\(name)'; roles are \(ServeRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}

/// Keeps the shared producer open while the roles run, rebuilds it after a fatal librdkafka
/// error (so `/readyz` turns green again without a restart), and flushes it on shutdown.
struct ProducerService: Service {
    let producer: KafkaProducer
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if !producer.isHealthy {
                    do {
                        try producer.recover()
                        EngineMetrics.producerRebuilt()
                    } catch {
                        logger.error("Kafka producer cannot be rebuilt", metadata: [LogKeys.error: "\(error)"])
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
        await producer.shutdown()
    }
}
