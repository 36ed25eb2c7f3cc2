import ArgumentParser
import BatonArgo
import BatonCore
import BatonEngine
import BatonKubeRay
import BatonKubernetes
import BatonRay
import BatonRayServe
import BatonStore
import Foundation
import Logging

/// Connection and logging settings shared by every subcommand.
///
/// Each option falls back to a `BATON_*` environment variable, then to a default; this is the
/// one place where the environment is read.
struct GlobalOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL, postgres://user:password@host:port/db (env BATON_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Kafka bootstrap servers, comma-separated (env BATON_KAFKA_BROKERS).")
    var brokers: String?

    @Option(
        name: .customLong("kafka-property"),
        help:
            "librdkafka property key=value for SASL/TLS and tuning; repeatable (env BATON_KAFKA_PROPERTIES, comma-separated)."
    )
    var kafkaProperties: [String] = []

    @Option(help: "Ray Jobs API address, e.g. http://127.0.0.1:8265 (env BATON_RAY_ADDRESS; token: BATON_RAY_TOKEN).")
    var rayAddress: String?

    @Option(
        help:
            "Ray launcher: jobs (the Ray Jobs API at --ray-address) or kuberay (a KubeRay RayJob per attempt, settings in BATON_KUBERAY_*) (env BATON_RAY_LAUNCHER; default jobs)."
    )
    var rayLauncher: String?

    @Option(help: "Topic name prefix (env BATON_TOPIC_PREFIX; default baton).")
    var topicPrefix: String?

    @Option(
        help:
            "Log level: trace, debug, info, notice, warning, error (env BATON_LOG_LEVEL; default info for serve, warning otherwise)."
    )
    var logLevel: String?

    static let environment = ProcessInfo.processInfo.environment

    /// Who acts, for audit records: `--actor`, else `$USER`; at most 200 bytes.
    ///
    /// - Parameter action: what the actor does, for the error, e.g. "moves the alias".
    /// - Throws: `ValidationError` when neither is set or the name is too long.
    static func actor(_ flag: String?, _ action: String) throws -> String {
        let actor = (flag ?? environment["USER"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !actor.isEmpty, actor.utf8.count <= 200 else {
            throw ValidationError("set --actor (or $USER) to who \(action), at most 200 bytes")
        }
        return actor
    }

    /// A run id given on the command line.
    static func runID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw ValidationError("'\(text.prefix(64))' is not a run id") }
        return id
    }

    func resolvedDatabaseURL() throws -> String {
        guard let url = databaseURL ?? Self.environment["BATON_DATABASE_URL"] else {
            throw ValidationError("set --database-url or BATON_DATABASE_URL (scripts/stack env prints it)")
        }
        return url
    }

    func resolvedBrokers() throws -> [String] {
        guard let brokers = brokers ?? Self.environment["BATON_KAFKA_BROKERS"] else {
            throw ValidationError("set --brokers or BATON_KAFKA_BROKERS (scripts/stack env prints it)")
        }
        return brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func resolvedKafkaProperties() throws -> [String: String] {
        let fromEnvironment =
            Self.environment["BATON_KAFKA_PROPERTIES"].map { $0.split(separator: ",").map(String.init) } ?? []
        var properties: [String: String] = [:]
        for pair in fromEnvironment + kafkaProperties {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("Kafka property '\(pair.prefix(40))' must be key=value")
            }
            properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return properties
    }

    func topics() -> EventTopics {
        EventTopics(prefix: topicPrefix ?? Self.environment["BATON_TOPIC_PREFIX"] ?? "baton")
    }

    func engineConfiguration() throws -> EngineConfiguration {
        var configuration = EngineConfiguration(brokers: try resolvedBrokers())
        configuration.topics = topics()
        configuration.kafkaProperties = try resolvedKafkaProperties()
        configuration.groupPrefix = topicPrefix ?? Self.environment["BATON_TOPIC_PREFIX"] ?? "baton"
        switch rayLauncher ?? Self.environment["BATON_RAY_LAUNCHER"] ?? "jobs" {
        case "jobs":
            if let address = rayAddress ?? Self.environment["BATON_RAY_ADDRESS"] {
                configuration.rayLauncher = RayJobClient(
                    configuration: .init(address: address, token: Self.environment["BATON_RAY_TOKEN"]),
                    logger: Logger(label: "baton.ray"))
            }
        case "kuberay": configuration.rayLauncher = try kubeRayLauncher()
        case let other: throw ValidationError("--ray-launcher must be jobs or kuberay, not '\(other.prefix(40))'")
        }
        if let root = Self.environment["BATON_ARTIFACT_ROOT"] { configuration.artifactRoot = root }
        if let root = Self.environment["BATON_JOBS_ROOT"] { configuration.jobsRoot = URL(filePath: root) }
        return configuration
    }

    /// The rollout drivers this process has settings for, by target; logs how to configure the
    /// others.
    ///
    /// - Parameter lock: serialises Ray Serve application updates among Baton processes.
    func rolloutDrivers(jobsRoot: URL, lock: any DistributedLock, logger: Logger) throws
        -> [RolloutSpec.Target: any RolloutDriver]
    {
        var drivers: [RolloutSpec.Target: any RolloutDriver] = [:]
        if var canary = try rayServeCanary(jobsRoot: jobsRoot) {
            canary.applicationsLock = lock
            drivers[.rayServe] = RayServeCanary(configuration: canary, logger: Logger(label: "baton.serve"))
        } else {
            logger.info("no Ray Serve canary: set BATON_PROMETHEUS_URL and BATON_RAY_ADDRESS to roll out to Ray Serve")
        }
        if let argo = try argoRolloutDriver() {
            drivers[.argo] = argo
        } else {
            logger.info("no Argo Rollouts driver: set BATON_ARGO_ROLLOUT to roll out with Argo")
        }
        return drivers
    }

    /// The Argo Rollouts driver of `rollout` stages with target `argo`: the Rollout named by
    /// BATON_ARGO_ROLLOUT on the API server of BATON_KUBECONFIG (else the pod's service account);
    /// `nil` without BATON_ARGO_ROLLOUT.
    func argoRolloutDriver() throws -> ArgoRolloutDriver? {
        let environment = Self.environment
        guard let rollout = environment["BATON_ARGO_ROLLOUT"], !rollout.isEmpty else { return nil }
        let kubernetes =
            try environment["BATON_KUBECONFIG"].map {
                try KubernetesConfiguration.kubeconfig(at: $0, context: environment["BATON_KUBE_CONTEXT"])
            } ?? KubernetesConfiguration.inCluster(environment: environment)
        var configuration = ArgoRolloutDriver.Configuration(
            namespace: environment["BATON_ARGO_NAMESPACE"] ?? kubernetes.namespace, rollout: rollout,
            container: environment["BATON_ARGO_CONTAINER"] ?? "server")
        configuration.image = environment["BATON_ARGO_IMAGE"]
        if let text = environment["BATON_ARGO_TIMEOUT_SECONDS"] {
            guard let seconds = Int64(text), seconds > 0 else {
                throw ValidationError("BATON_ARGO_TIMEOUT_SECONDS must be whole seconds above 0")
            }
            configuration.timeout = .seconds(seconds)
        }
        let logger = Logger(label: "baton.argo")
        return ArgoRolloutDriver(
            client: try KubernetesClient(configuration: kubernetes, logger: logger), configuration: configuration,
            logger: logger)
    }

    /// The Ray Serve canary of `rollout` stages: Serve's REST API at BATON_RAY_SERVE_ADDRESS (else
    /// the Ray address), Prometheus at BATON_PROMETHEUS_URL, the proxy at BATON_RAY_SERVE_HTTP
    /// (default http://127.0.0.1:8010) and the applications in BATON_RAY_SERVE_APPS (default
    /// `<jobs root>/jobs/serve`); `nil` without a Prometheus or Ray address.
    func rayServeCanary(jobsRoot: URL) throws -> RayServeCanary.Configuration? {
        let environment = Self.environment
        guard let prometheus = environment["BATON_PROMETHEUS_URL"],
            let serve = environment["BATON_RAY_SERVE_ADDRESS"] ?? rayAddress ?? environment["BATON_RAY_ADDRESS"]
        else { return nil }
        let folder =
            environment["BATON_RAY_SERVE_APPS"].map { URL(filePath: $0) }
            ?? jobsRoot.appending(path: "jobs/serve")
        var canary = RayServeCanary.Configuration(
            serveAddress: serve, prometheusURL: prometheus, applicationsFolder: folder)
        canary.token = environment["BATON_RAY_TOKEN"]
        if let proxy = environment["BATON_RAY_SERVE_HTTP"] {
            guard let url = URL(string: proxy), let host = url.host(), let port = url.port else {
                throw ValidationError("BATON_RAY_SERVE_HTTP must be http://<host>:<port>, not '\(proxy.prefix(80))'")
            }
            canary.httpHost = host
            canary.httpPort = port
        }
        return canary
    }

    /// The KubeRay launcher: the API server from BATON_KUBECONFIG (else the pod's service account),
    /// the cluster from BATON_KUBERAY_CLUSTER_SPEC or BATON_KUBERAY_CLUSTER_SELECTOR.
    func kubeRayLauncher() throws -> KubeRayLauncher {
        let environment = Self.environment
        var kubernetes =
            try environment["BATON_KUBECONFIG"].map {
                try KubernetesConfiguration.kubeconfig(at: $0, context: environment["BATON_KUBE_CONTEXT"])
            } ?? KubernetesConfiguration.inCluster(environment: environment)
        if let namespace = environment["BATON_KUBERAY_NAMESPACE"] { kubernetes.namespace = namespace }
        let cluster: KubeRayLauncher.Configuration.Cluster
        if let path = environment["BATON_KUBERAY_CLUSTER_SPEC"] {
            cluster = try .templateFile(at: path)
        } else if let selector = environment["BATON_KUBERAY_CLUSTER_SELECTOR"] {
            let pairs = selector.split(separator: ",").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
            guard !pairs.isEmpty, pairs.allSatisfy({ $0.count == 2 }) else {
                throw ValidationError("BATON_KUBERAY_CLUSTER_SELECTOR must be label=value pairs, comma-separated")
            }
            cluster = .selector(Dictionary(pairs.map { ($0[0], $0[1]) }) { $1 })
        } else {
            throw ValidationError(
                "set BATON_KUBERAY_CLUSTER_SPEC (a rayClusterSpec file) or BATON_KUBERAY_CLUSTER_SELECTOR (labels)")
        }
        var configuration = KubeRayLauncher.Configuration(kubernetes: kubernetes, cluster: cluster)
        func seconds(_ name: String) throws -> Int64? {
            guard let text = environment[name] else { return nil }
            guard let value = Int64(text), value >= 0 else { throw ValidationError("\(name) must be whole seconds") }
            return value
        }
        if let deadline = try seconds("BATON_KUBERAY_ACTIVE_DEADLINE_SECONDS") {
            configuration.activeDeadline = deadline > 0 ? .seconds(deadline) : nil
        }
        if let ttl = try seconds("BATON_KUBERAY_TTL_SECONDS") { configuration.ttlAfterFinished = .seconds(ttl) }
        if let version = environment["BATON_KUBERAY_RAY_VERSION"] { configuration.rayVersion = version }
        return try KubeRayLauncher(configuration: configuration, logger: Logger(label: "baton.kuberay"))
    }

    /// Sets up swift-log once for the process.
    ///
    /// - Parameter defaultLevel: the level when neither flag nor environment sets one; one-shot
    ///   commands keep the terminal quiet with `warning`, `serve` logs at `info`.
    func bootstrapLogging(defaultLevel: Logger.Level = .warning) {
        let configured = logLevel ?? Self.environment["BATON_LOG_LEVEL"]
        let level = configured.flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
