import ArgumentParser
import BatonArgo
import BatonCommandLine
import BatonCore
import BatonKubeRay
import BatonKubernetes
import BatonRay
import BatonRayServe
import Foundation
import Logging

/// Where `serve` runs Ray jobs and rolls models out: the Ray launcher (the Ray Jobs API or
/// KubeRay) and the rollout drivers (the Ray Serve canary, Argo Rollouts), built from flags and
/// `BATON_*` variables. The one place that names a platform; the engine gets them injected.
struct PlatformOptions: ParsableArguments {
    @Option(help: "Ray Jobs API address, e.g. http://127.0.0.1:8265 (env BATON_RAY_ADDRESS; token: BATON_RAY_TOKEN).")
    var rayAddress: String?

    @Option(
        help:
            "Ray launcher: jobs (the Ray Jobs API at --ray-address) or kuberay (a KubeRay RayJob per attempt, settings in BATON_KUBERAY_*) (env BATON_RAY_LAUNCHER; default jobs)."
    )
    var rayLauncher: String?

    /// What runs `ray` stages; `nil` without a Ray address for the `jobs` launcher.
    func makeRayLauncher() throws -> (any RayJobLauncher)? {
        let environment = GlobalOptions.environment
        switch rayLauncher ?? environment["BATON_RAY_LAUNCHER"] ?? "jobs" {
        case "jobs":
            guard let address = rayAddress ?? environment["BATON_RAY_ADDRESS"] else { return nil }
            var configuration = RayJobClient.Configuration(address: address, token: environment["BATON_RAY_TOKEN"])
            if let text = environment["BATON_RAY_TIMEOUT_SECONDS"] {
                guard let seconds = Int64(text), seconds > 0 else {
                    throw ValidationError("BATON_RAY_TIMEOUT_SECONDS must be whole seconds above 0")
                }
                configuration.requestTimeout = .seconds(seconds)
            }
            return RayJobClient(configuration: configuration, logger: Logger(label: "baton.ray"))
        case "kuberay": return try kubeRayLauncher()
        case let other: throw ValidationError("--ray-launcher must be jobs or kuberay, not '\(other.prefix(40))'")
        }
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
        let environment = GlobalOptions.environment
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
    /// (default http://127.0.0.1:8010), the applications in BATON_RAY_SERVE_APPS (default
    /// `<jobs root>/jobs/serve`), BATON_RAY_SERVE_READY_SECONDS for a deployment to run (default
    /// 300); `nil` without a Prometheus or Ray address.
    func rayServeCanary(jobsRoot: URL) throws -> RayServeCanary.Configuration? {
        let environment = GlobalOptions.environment
        guard let prometheus = environment["BATON_PROMETHEUS_URL"],
            let serve = environment["BATON_RAY_SERVE_ADDRESS"] ?? rayAddress ?? environment["BATON_RAY_ADDRESS"]
        else { return nil }
        let folder =
            environment["BATON_RAY_SERVE_APPS"].map { URL(filePath: $0) }
            ?? jobsRoot.appending(path: "jobs/serve")
        var canary = RayServeCanary.Configuration(
            serveAddress: serve, prometheusURL: prometheus, applicationsFolder: folder)
        canary.token = environment["BATON_RAY_TOKEN"]
        if let ready = try ServeCommand.seconds(nil, "BATON_RAY_SERVE_READY_SECONDS", environment) {
            canary.readyTimeout = ready
        }
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
        let environment = GlobalOptions.environment
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
}
