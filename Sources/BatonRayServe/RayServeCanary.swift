import BatonCore
import BatonHTTPClient
import BatonRay
import Foundation
import Logging
import NIOHTTP1

/// A ``RolloutDriver`` for Ray Serve: Baton steps the weight of the model's router application
/// itself (`jobs/serve`), deploying through Serve's REST API, and runs each analysis step
/// against Prometheus.
///
/// Every step is idempotent, so a rollout re-run after a lost lease starts again from the first
/// step: the first deployment keeps the candidate's current weight when the router already
/// routes to it, then each `setWeight` sets its weight again. At the end the candidate serves all
/// traffic alone and the old stable application is removed; on a failed analysis, or a
/// candidate that Serve cannot deploy (``RayServeCanaryError/isRetriable`` false), the stable
/// version takes all traffic back and the candidate's application is removed (the router and
/// every version application are removed when there is no stable version).
///
/// Between rollouts, ``restoreServing(champion:)`` deploys a champion again when Serve lost its
/// applications (KubeRay's PUT of its own `serveConfigV2`, a head restart); the sweeper calls it.
public struct RayServeCanary: RolloutDriver {
    /// Where Ray Serve and Prometheus are.
    public struct Configuration: Sendable {
        /// The Ray dashboard that serves Serve's REST API, e.g. `http://127.0.0.1:8265`.
        public var serveAddress: String
        /// Prometheus' address, e.g. `http://127.0.0.1:9095`.
        public var prometheusURL: String
        /// The folder deployed as the applications' `working_dir` (`jobs/serve`).
        public var applicationsFolder: URL
        /// Serve's HTTP proxy host. Default: `127.0.0.1`.
        public var httpHost = "127.0.0.1"
        /// Serve's HTTP proxy port (Serve keeps the first one it started with). Default: 8010.
        public var httpPort = 8010
        /// The longest one REST or Prometheus call may take. Default: 60 s (on a fresh head, Ray's
        /// dashboard answers Serve's REST API only once it has started Serve's controller).
        public var requestTimeout: Duration = .seconds(60)
        /// The longest the PUT of Serve's applications may take: the first one starts Serve's
        /// controller and proxy, which takes tens of seconds on a busy head. Default: 180 s.
        public var deployTimeout: Duration = .seconds(180)
        /// How long a deployment may take to run. Default: 5 min (a model loads on first deploy).
        public var readyTimeout: Duration = .seconds(300)
        /// Between two status polls while deploying. Default: 500 ms.
        public var pollInterval: Duration = .milliseconds(500)
        /// The Ray dashboard's bearer token (`BATON_RAY_TOKEN`), sent with every Serve REST call and
        /// package upload, never to Prometheus. Default: none.
        public var token: String?
        /// Serialises the read-modify-write of Serve's applications among Baton processes
        /// (`baton serve` passes its PostgreSQL store). Default: none, when one process alone
        /// rolls out to this Serve.
        public var applicationsLock: (any DistributedLock)?

        /// Serve's REST API at `serveAddress`, Prometheus at `prometheusURL`, the applications'
        /// code in `applicationsFolder`; every other setting at its default.
        public init(serveAddress: String, prometheusURL: String, applicationsFolder: URL) {
            self.serveAddress = serveAddress.hasSuffix("/") ? String(serveAddress.dropLast()) : serveAddress
            self.prometheusURL = prometheusURL.hasSuffix("/") ? String(prometheusURL.dropLast()) : prometheusURL
            self.applicationsFolder = applicationsFolder
        }

        /// A client of Serve's REST API, with the token.
        func makeServeClient(logger: Logger) -> JSONHTTPClient {
            var endpoint = JSONHTTPClient.Configuration(service: "Ray Serve", baseURL: serveAddress)
            endpoint.requestTimeout = requestTimeout
            if let token {
                endpoint.headers.add(name: "Authorization", value: "Bearer \(token)")
                endpoint.headers.add(name: "X-Ray-Authorization", value: "Bearer \(token)")
            }
            return JSONHTTPClient(configuration: endpoint, logger: logger)
        }

        /// A client of Prometheus' HTTP API (never sent the Ray token).
        func makePrometheusClient(logger: Logger) -> JSONHTTPClient {
            var endpoint = JSONHTTPClient.Configuration(service: "Prometheus", baseURL: prometheusURL)
            endpoint.requestTimeout = requestTimeout
            return JSONHTTPClient(configuration: endpoint, logger: logger)
        }
    }

    /// Where Serve and Prometheus are.
    public let configuration: Configuration
    private let logger: Logger

    /// A canary driver for the Serve and Prometheus of `configuration`.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `rollout`'s steps against Serve, its analyses against Prometheus (see the type's
    /// documentation).
    ///
    /// - Throws: ``RayServeCanaryError`` when Serve or Prometheus cannot be used at all.
    public func run(
        candidate: RolloutModel, stable: RolloutModel?, rollout: RolloutSpec,
        report: @Sendable (RolloutStepReport) async throws -> Void
    ) async throws -> RolloutResult {
        let applications = makeApplications()
        let analysis = RayServeCanaryAnalysis(
            prometheus: configuration.makePrometheusClient(logger: logger), logger: logger)
        let workingDir = try await uploadApplications()
        let model = candidate.name
        // Without a stable version the candidate takes all traffic from the start.
        var weight = stable == nil ? 100 : 0
        if let routing = RayServeCanaryApplications.currentRouting(
            model: model, in: try await applications.applications()),
            routing.candidate?.version == candidate.version, stable != nil
        {
            weight = routing.weight
        }
        func deploy(_ weight: Int) async throws {
            try await applications.deploy(
                model: model, routing: .init(stable: stable, candidate: candidate, weight: weight),
                workingDir: workingDir)
        }
        do {
            try await deploy(weight)
        } catch let error as RayServeCanaryError where !error.isRetriable {
            let message = "deploying version \(candidate.version) failed: \(error.reason)"
            try await abort(applications, model: model, stable: stable, workingDir: workingDir)
            return .aborted(reason: message)
        }
        for (index, step) in rollout.steps.enumerated() {
            let started = ContinuousClock.now
            switch step {
            case .setWeight(let percent):
                if stable != nil { weight = percent }
                do {
                    try await deploy(weight)
                } catch let error as RayServeCanaryError where !error.isRetriable {
                    // The candidate cannot run (it fails to load, Serve refuses it): abort.
                    let message = "step \(index) (setWeight \(percent)): \(error.reason)"
                    try await abort(applications, model: model, stable: stable, workingDir: workingDir)
                    try await report(
                        RolloutStepReport(index: index, kind: "setWeight", weight: 0, phase: "failed", message: message)
                    )
                    return .aborted(reason: message)
                }
                try await report(RolloutStepReport(index: index, kind: "setWeight", weight: weight, phase: "succeeded"))
            case .pause(let duration):
                try await Task.sleep(for: duration)
                try await report(RolloutStepReport(index: index, kind: "pause", weight: weight, phase: "succeeded"))
            case .analysis(let name):
                guard let template = rollout.templates[name] else {
                    throw RayServeCanaryError.badResponse("analysis template '\(name)' is not defined")
                }
                let outcome = try await analysis.run(
                    template, model: model, candidate: candidate.version, stable: stable?.version)
                logger.info(
                    "analysis done",
                    metadata: [
                        LogKeys.template: "\(name)", LogKeys.passed: "\(outcome.passed)",
                        LogKeys.queryMilliseconds: "\(outcome.queryDurations.map(\.milliseconds))",
                    ])
                guard outcome.passed else {
                    let message = "step \(index) (analysis \(name)): \(outcome.message ?? "failed")"
                    try await abort(applications, model: model, stable: stable, workingDir: workingDir)
                    try await report(
                        RolloutStepReport(
                            index: index, kind: "analysis", weight: 0, phase: "failed",
                            measurements: outcome.measurements, message: message))
                    return .aborted(reason: message)
                }
                try await report(
                    RolloutStepReport(
                        index: index, kind: "analysis", weight: weight, phase: "succeeded",
                        measurements: outcome.measurements))
            }
            logger.info(
                "rollout step done",
                metadata: [
                    LogKeys.model: "\(model)", LogKeys.step: "\(index)", LogKeys.weight: "\(weight)",
                    LogKeys.durationMilliseconds: "\((ContinuousClock.now - started).milliseconds)",
                ])
        }
        // Promotion: the candidate alone behind the router; the old stable application goes.
        try await applications.deploy(
            model: model, routing: .init(stable: candidate, candidate: nil, weight: 0), workingDir: workingDir)
        return .succeeded
    }

    /// `true`: Serve loses its applications when KubeRay PUTs its own `serveConfigV2` (after an
    /// operator restart, on a new cluster) or when a head without GCS fault tolerance restarts.
    public var canLoseServing: Bool { true }

    /// Deploys `champion` again behind the model's router, alone, when Serve lost the router or
    /// the version application it routes to; leaves a router that routes elsewhere (a canary, a
    /// version put there by hand) as it is while every application it needs runs.
    ///
    /// Reads Serve's applications; only when something is missing it uploads `jobs/serve` again
    /// (a new cluster has lost the package too) and deploys through the same GET-merge-PUT as a
    /// rollout step, deciding again under ``Configuration/applicationsLock`` from the applications
    /// it merges into, so that of several Baton processes only one deploys and a rollout's
    /// deployment is never overwritten. Other models' and foreign applications are kept as deployed.
    ///
    /// - Throws: ``RayServeCanaryError`` when Serve cannot be read, the package not uploaded, or
    ///   the champion not deployed within ``Configuration/readyTimeout``.
    public func restoreServing(champion: RolloutModel) async throws -> ServingRestoreOutcome {
        let applications = makeApplications()
        let found = RayServeCanaryApplications.restoreOutcome(for: champion, in: try await applications.applications())
        guard case .restored(let reason) = found else { return found }
        logger.info(
            "deploying the champion again",
            metadata: [
                LogKeys.model: "\(champion.name)", LogKeys.version: "\(champion.version)", LogKeys.reason: "\(reason)",
            ])
        return try await applications.restore(champion, workingDir: try await uploadApplications())
    }

    private func makeApplications() -> RayServeCanaryApplications {
        RayServeCanaryApplications(
            serve: configuration.makeServeClient(logger: logger), configuration: configuration, logger: logger)
    }

    /// Uploads ``Configuration/applicationsFolder`` (once per content) and returns its `gcs://` URI.
    private func uploadApplications() async throws(RayServeCanaryError) -> String {
        let ray = RayJobClient(
            configuration: RayJobClient.Configuration(address: configuration.serveAddress, token: configuration.token),
            logger: logger)
        do {
            return try await ray.workingDirectory(for: configuration.applicationsFolder)
        } catch {
            throw .unavailable("cannot upload \(configuration.applicationsFolder.path): \(error)")
        }
    }

    /// Sends all traffic back to the stable version, or removes the model's applications when
    /// there is none.
    private func abort(
        _ applications: RayServeCanaryApplications, model: String, stable: RolloutModel?, workingDir: String
    ) async throws {
        let routing = stable.map { RayServeCanaryApplications.Routing(stable: $0, candidate: nil, weight: 0) }
        try await applications.deploy(model: model, routing: routing, workingDir: workingDir)
    }
}
