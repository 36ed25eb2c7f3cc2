import AsyncHTTPClient
import BatonCore
import BatonKubernetes
import BatonRay
import Logging
import NIOConcurrencyHelpers

/// Runs each stage attempt as a KubeRay `RayJob` (`ray.io/v1`) through the Kubernetes API.
///
/// `submit` creates a RayJob named after the submission id (`RayJobName`), on a new cluster
/// from a template (`rayClusterSpec`, shut down when the job finishes) or on an existing one
/// (`clusterSelector`); creating it again finds the same object, so an attempt never runs twice.
/// `job` maps `status.jobDeploymentStatus` and `status.jobStatus` to a Ray job status; `stop`
/// deletes the RayJob, and KubeRay stops the job and its cluster.
///
/// Logs: KubeRay has no log endpoint. `logs` reads the driver log from the RayJob's cluster
/// through the Ray Jobs API (`status.dashboardURL`, `status.jobId`), which Baton can reach when it
/// runs in the same Kubernetes cluster; when the cluster is gone or unreachable, it reads the log
/// of the submitter pod (label `job-name=<rayjob>`), which follows the driver log in
/// `K8sJobMode`. `ttlAfterFinished` keeps the cluster long enough for the first way.
///
/// - Important: after `stop` deletes a RayJob, `job` answers STOPPED for it (instead of
///   `notFound`) for as long as this process runs.
public struct KubeRayLauncher: RayJobLauncher {
    /// Where RayJobs go and what they run on.
    public struct Configuration: Sendable {
        /// The Ray cluster a RayJob runs on.
        public enum Cluster: Sendable, Hashable {
            /// A new cluster per job from this `rayClusterSpec`, deleted after the job finishes.
            case template(JSONValue)
            /// An existing RayCluster with these labels (e.g. `ray.io/cluster: shared`), left running.
            case selector([String: String])

            /// A `rayClusterSpec` read from a YAML or JSON file (the `spec` of a RayCluster).
            ///
            /// - Throws: `KubernetesError` with code `configuration` when the file cannot be read or
            ///   is not a mapping.
            public static func templateFile(at path: String) throws(KubernetesError) -> Cluster {
                let bytes = try KubernetesConfiguration.readFile(path, what: "the RayCluster template")
                let template = try YAMLTemplate.parse(String(decoding: bytes, as: UTF8.self), origin: path)
                guard case .object(var spec) = template else {
                    throw .configuration("the RayCluster template \(path) is not a mapping")
                }
                // A whole RayCluster manifest works too: take its spec.
                if case .string("RayCluster") = spec["kind"], case .object(let inner) = spec["spec"] { spec = inner }
                guard spec["headGroupSpec"] != nil else {
                    throw .configuration("the RayCluster template \(path) has no headGroupSpec")
                }
                return .template(.object(spec))
            }
        }

        /// The API server and the namespace of the RayJobs.
        public var kubernetes: KubernetesConfiguration
        /// Where each job runs: a new cluster from a template, or an existing one by selector.
        public var cluster: Cluster
        /// `spec.activeDeadlineSeconds`: KubeRay fails a RayJob running longer, even if Baton is
        /// down. Baton's own stage timeouts stop jobs earlier. `nil` sends none. Default: 24 hours.
        public var activeDeadline: Duration? = .seconds(24 * 3600)
        /// `spec.ttlSecondsAfterFinished` (template clusters only): how long the cluster outlives
        /// the job, so that Baton can read the driver log. Default: 300 s.
        public var ttlAfterFinished: Duration = .seconds(300)
        /// Put in front of the submission id to name a RayJob; starts with a letter. Default: `baton-`.
        public var namePrefix = "baton-"
        /// Extra labels on every RayJob. Default: none.
        public var labels: [String: String] = [:]
        /// `spec.submissionMode` (`K8sJobMode`, `HTTPMode`). Default: none (KubeRay's `K8sJobMode`).
        public var submissionMode: String?
        /// The Ray version `version()` reports. Default: the template's `rayVersion`, else `2.60.0`.
        public var rayVersion: String
        /// The most bytes of driver log kept; of a longer log, its end is read (the job's
        /// `::baton::` records come last). Default: 16 MiB.
        public var maxLogBytes = 16 << 20

        /// RayJobs on `kubernetes` running on `cluster`; the Ray version is the template's `rayVersion`, else 2.60.0.
        public init(kubernetes: KubernetesConfiguration, cluster: Cluster) {
            self.kubernetes = kubernetes
            self.cluster = cluster
            if case .template(.object(let spec)) = cluster, case .string(let version) = spec["rayVersion"] {
                self.rayVersion = version
            } else {
                self.rayVersion = "2.60.0"
            }
        }
    }

    /// Where RayJobs go and how they are made.
    public let configuration: Configuration
    private let kubernetes: KubernetesClient
    private let httpClient: HTTPClient
    private let logger: Logger
    private let stopped = StoppedJobs()

    /// - Throws: `KubernetesError` with code `configuration` when the TLS material is not valid.
    public init(configuration: Configuration, httpClient: HTTPClient = .shared, logger: Logger)
        throws(KubernetesError)
    {
        self.configuration = configuration
        self.kubernetes = try KubernetesClient(
            configuration: configuration.kubernetes, httpClient: httpClient, logger: logger)
        self.httpClient = httpClient
        self.logger = logger
    }

    // MARK: - RayJobLauncher

    /// The configured Ray version: there is no dashboard to ask before a cluster is up.
    public func version() async throws(RayError) -> RayServerVersion {
        RayServerVersion(version: "kuberay", rayVersion: configuration.rayVersion)
    }

    /// Creates the RayJob, or finds the one already created for this submission id.
    public func submit(_ submission: RayJobSubmission, server: RayServerVersion) async throws(RayError)
        -> RayJobDetails
    {
        let name = name(of: submission.submissionID)
        if submission.entrypointMemory != nil {
            logger.warning(
                "a RayJob has no entrypoint memory field; not sent",
                metadata: [LogKey.submissionID: "\(submission.submissionID)"])
        }
        let manifest = RayJobManifest.make(submission, name: name, configuration: configuration)
        do {
            let created = try await kubernetes.create(RayJobResource.self, collectionPath, object: manifest)
            logger.info(
                "rayjob created",
                metadata: [LogKey.submissionID: "\(submission.submissionID)", LogKey.rayJob: "\(name)"])
            return created.details(submissionID: submission.submissionID)
        } catch  where error.code == .alreadyExists {
            logger.info(
                "rayjob already created",
                metadata: [LogKey.submissionID: "\(submission.submissionID)", LogKey.rayJob: "\(name)"])
        } catch {
            throw Self.rayError(error)
        }
        let existing = try await resource(submission.submissionID)
        if let owner = existing.metadata.annotations?[RayJobManifest.submissionIDAnnotation],
            owner != submission.submissionID
        {
            throw RayError(
                .rejected, "RayJob \(name) belongs to submission \(owner), not \(submission.submissionID)",
                status: 409, isRetriable: false)
        }
        return existing.details(submissionID: submission.submissionID)
    }

    /// The RayJob's state; STOPPED for one this process deleted; `notFound` for an unknown one.
    public func job(_ submissionID: String) async throws(RayError) -> RayJobDetails {
        do {
            return try await resource(submissionID).details(submissionID: submissionID)
        } catch  where error.code == .notFound && stopped.contains(submissionID) {
            return RayJobDetails(
                status: .stopped, submissionID: submissionID, message: "the RayJob was deleted by Baton")
        }
    }

    /// The driver log: from the RayJob's cluster through the Jobs API, else from the submitter pod.
    public func logs(_ submissionID: String) async throws(RayError) -> String {
        let resource = try await resource(submissionID)
        if let address = resource.status?.dashboardURL, !address.isEmpty,
            let jobID = resource.status?.jobId ?? resource.spec?.jobId, !jobID.isEmpty
        {
            var dashboard = RayJobClient.Configuration(address: address.contains("://") ? address : "http://" + address)
            dashboard.requestTimeout = configuration.kubernetes.requestTimeout
            dashboard.maxLogBytes = configuration.maxLogBytes
            do {
                return try await RayJobClient(configuration: dashboard, httpClient: httpClient, logger: logger)
                    .logs(jobID)
            } catch {
                logger.notice(
                    "cannot read the driver log from the RayJob's cluster; reading the submitter pod's",
                    metadata: [LogKey.submissionID: "\(submissionID)", LogKey.error: "\(error)"])
            }
        }
        return try await submitterLog(submissionID: submissionID, name: resource.metadata.name)
    }

    /// Deletes the RayJob (propagation `Background`); `false` when it had ended or is gone.
    public func stop(_ submissionID: String) async throws(RayError) -> Bool {
        let name = name(of: submissionID)
        let current: RayJobResource
        do {
            current = try await resource(submissionID)
        } catch  where error.code == .notFound {
            stopped.insert(submissionID)
            return false
        }
        if current.isDeleting { stopped.insert(submissionID) }
        if current.details(submissionID: submissionID).status.isTerminal { return false }
        do {
            try await kubernetes.delete(path(of: submissionID), propagationPolicy: "Background")
        } catch  where error.code == .notFound {
            stopped.insert(submissionID)
            return false
        } catch {
            throw Self.rayError(error)
        }
        stopped.insert(submissionID)
        logger.info("rayjob deleted", metadata: [LogKey.submissionID: "\(submissionID)", LogKey.rayJob: "\(name)"])
        return true
    }

    // MARK: - Kubernetes

    private var collectionPath: String {
        "/apis/ray.io/v1/namespaces/\(KubernetesClient.segment(configuration.kubernetes.namespace))/rayjobs"
    }

    private func name(of submissionID: String) -> String {
        RayJobName.make(submissionID: submissionID, prefix: configuration.namePrefix)
    }

    private func path(of submissionID: String) -> String {
        collectionPath + "/" + name(of: submissionID)
    }

    private func resource(_ submissionID: String) async throws(RayError) -> RayJobResource {
        do {
            return try await kubernetes.get(RayJobResource.self, path(of: submissionID))
        } catch {
            throw Self.rayError(error)
        }
    }

    private func submitterLog(submissionID: String, name: String) async throws(RayError) -> String {
        struct PodList: Decodable {
            struct Pod: Decodable {
                struct Metadata: Decodable {
                    var name: String
                    var creationTimestamp: String?
                }
                var metadata: Metadata
            }
            var items: [Pod]
        }
        let namespace = KubernetesClient.segment(configuration.kubernetes.namespace)
        do {
            let pods = try await kubernetes.get(
                PodList.self, "/api/v1/namespaces/\(namespace)/pods", query: ["labelSelector": "job-name=\(name)"])
            // The newest pod is the last try of the submitter Job.
            guard
                let pod = pods.items.max(by: {
                    (RayJobResource.milliseconds($0.metadata.creationTimestamp) ?? 0)
                        < (RayJobResource.milliseconds($1.metadata.creationTimestamp) ?? 0)
                })
            else {
                throw RayError(
                    .notFound, "RayJob \(name) has no reachable cluster and no submitter pod to read the log from",
                    isRetriable: false)
            }
            return try await podLogTail(
                "/api/v1/namespaces/\(namespace)/pods/\(KubernetesClient.segment(pod.metadata.name))/log")
        } catch let error as RayError {
            throw error
        } catch let error as KubernetesError {
            throw Self.rayError(error)
        } catch {
            throw RayError(.unavailable, "\(error)", isRetriable: true)
        }
    }

    /// The last lines of a pod's log that fit in ``Configuration/maxLogBytes``.
    ///
    /// Kubernetes can cut a log after its first `limitBytes` or keep its last `tailLines`, but not
    /// keep its last bytes, and `limitBytes` applies after `tailLines`. So: the whole log when it
    /// fits; else ever fewer last lines until they fit (each answer bounded by `limitBytes`); else
    /// the end of what came back.
    func podLogTail(_ path: String) async throws -> String {
        let limit = configuration.maxLogBytes
        // One byte over the limit tells a log that fits from one that was cut.
        let bounded = ["limitBytes": "\(limit + 1)"]
        var text = try await kubernetes.text(path, query: bounded, maxBytes: limit + 4096)
        if text.utf8.count <= limit { return text }
        for lines in Self.tailLineSteps {
            text = try await kubernetes.text(
                path, query: bounded.merging(["tailLines": "\(lines)"]) { $1 }, maxBytes: limit + 4096)
            if text.utf8.count <= limit { return text }
        }
        // Even the last line is longer than the limit (or the server ignored the limits): keep
        // the end of what came, from its first whole line on.
        let bytes = text.utf8.suffix(limit + 1)
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return "" }
        return String(decoding: text.utf8[text.utf8.index(after: newline)...], as: UTF8.self)
    }

    /// The `tailLines` tried, from the most records a job may report down to the last line.
    static let tailLineSteps = [100_000, 10_000, 1000, 100, 10, 1]

    /// The same failure in the launcher protocol's terms.
    static func rayError(_ error: KubernetesError) -> RayError {
        let code: RayError.Code =
            switch error.code {
            case .notFound: .notFound
            case .unavailable: .unavailable
            case .badResponse: .badResponse
            default: .rejected
            }
        return RayError(
            code, error.reason, status: error.status, isRetriable: error.isRetriable, file: error.file,
            line: error.line)
    }

    private enum LogKey {
        static let submissionID = "submission_id"
        static let rayJob = "rayjob"
        static let error = "error"
    }
}

// MARK: - Stopped jobs

/// Submission ids whose RayJob this process deleted, so that `job` can answer STOPPED once the
/// object is gone. Bounded: the oldest are forgotten first.
private final class StoppedJobs: Sendable {
    private struct State {
        var ids: Set<String> = []
        var order: [String] = []
    }

    private static let capacity = 4096
    private let state = NIOLockedValueBox(State())

    func insert(_ id: String) {
        state.withLockedValue { state in
            guard state.ids.insert(id).inserted else { return }
            state.order.append(id)
            if state.order.count > Self.capacity { state.ids.remove(state.order.removeFirst()) }
        }
    }

    func contains(_ id: String) -> Bool { state.withLockedValue { $0.ids.contains(id) } }
}
