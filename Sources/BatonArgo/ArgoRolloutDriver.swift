import BatonCore
import BatonKubernetes
import Logging

/// Rolls a model out through an Argo Rollout: Baton points the Rollout's pod template at the
/// candidate, Argo runs the canary steps written in the Rollout (weights, pauses, analyses) and
/// Baton follows its status, reporting each step as Argo completes it.
///
/// What it patches: in `spec.template.spec.containers[name == container]`, the env vars
/// `MODEL_URI`, `MODEL_VERSION` and `MODEL_MD5` (and the image when `Configuration.image` is set),
/// with one JSON patch that first tests the container's name and replaces only that container's
/// `env`; other containers and other env vars stay as they are.
///
/// What it follows: `status.observedGeneration` (must reach `metadata.generation`),
/// `currentStepIndex`, `phase`, `abort`, `message`, `stableRS`/`currentPodHash` and
/// `canary.currentStepAnalysisRunStatus` (whose AnalysisRun gives the measurements).
///
/// It does not run `steps` itself: with Argo the steps are the Rollout's own
/// (`spec.strategy.canary.steps`), and those are the ones reported.
///
/// - Important: Running it again after a crash is safe: a template that already carries the
///   candidate is not patched again, and the driver picks up from the Rollout's status (steps
///   done before the crash are reported again). Cancelling `run` does not abort the Rollout (a
///   worker that lost its lease must not abort a rollout its successor follows): call `abort`.
public struct ArgoRolloutDriver: RolloutDriver {
    /// Which Rollout and container, and how to follow it.
    public struct Configuration: Sendable {
        /// The namespace of the Rollout.
        public var namespace: String
        /// The Rollout's `metadata.name`.
        public var rollout: String
        /// The name of the model server's container in the Rollout's pod template.
        public var container: String
        /// An image to set on the container with the candidate. Default: nil (the image stays).
        public var image: String?
        /// The first wait between two reads of the Rollout; it grows by half each time nothing
        /// changed. Default: 2 s.
        public var pollInterval: Duration = .seconds(2)
        /// The longest wait between two reads. Default: 30 s.
        public var maxPollInterval: Duration = .seconds(30)
        /// How long the whole rollout may take before Baton aborts it. Default: 1 hour.
        public var timeout: Duration = .seconds(3600)

        /// The Rollout `rollout` in `namespace`, whose container `container` serves the model; every other setting at its default.
        public init(namespace: String, rollout: String, container: String) {
            self.namespace = namespace
            self.rollout = rollout
            self.container = container
        }
    }

    /// The env vars Baton sets on the model server's container.
    public enum EnvironmentName {
        /// The candidate's artifact URI.
        public static let uri = "MODEL_URI"
        /// The candidate's registry version.
        public static let version = "MODEL_VERSION"
        /// The candidate artifact's MD5.
        public static let md5 = "MODEL_MD5"
    }

    /// Which Rollout, and how to drive it.
    public let configuration: Configuration
    private let client: KubernetesClient
    private let logger: Logger

    /// - Parameters:
    ///   - client: the Kubernetes API client; every call it makes has its own timeout.
    public init(client: KubernetesClient, configuration: Configuration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKeys.rollout] = "\(configuration.namespace)/\(configuration.rollout)"
        self.logger = logger
    }

    // MARK: - RolloutDriver

    /// Points the Rollout at `candidate` (unless it already is) and follows it to `Healthy`
    /// (`.succeeded`) or to an abort (`.aborted` with Argo's message and the failing
    /// measurements). Past `Configuration.timeout`, or when Argo reports `Degraded` without
    /// aborting, Baton aborts the Rollout itself, so traffic is on the stable ReplicaSet whenever
    /// this returns `.aborted`.
    ///
    /// The spec's `steps` are not run here: Argo runs the Rollout's own.
    ///
    /// - Throws: `KubernetesError` when the Rollout cannot be read or patched (not found,
    ///   forbidden, no such container); `CancellationError` when cancelled.
    public func run(
        candidate: RolloutModel, stable: RolloutModel?, rollout _: RolloutSpec,
        report: @Sendable (RolloutStepReport) async throws -> Void
    ) async throws -> RolloutResult {
        let deadline = ContinuousClock.now + configuration.timeout
        let rollout = try await fetchRollout()
        try await point(rollout, at: candidate)
        var follower = Follower(candidate: candidate)
        var interval = configuration.pollInterval
        while true {
            if let rollout = try await fetchRolloutRetrying() {
                let before = follower.progress
                if let result = try await follow(rollout, with: &follower, report: report) { return result }
                interval =
                    follower.progress == before
                    ? min(interval * 1.5, configuration.maxPollInterval) : configuration.pollInterval
            }
            let now = ContinuousClock.now
            if now >= deadline {
                let reason =
                    "Baton aborted the rollout of \(candidate.name) v\(candidate.version): not Healthy within "
                    + "\(configuration.timeout) (\(follower.lastSeen))"
                try await abort(reason: reason)
                return .aborted(reason: reason)
            }
            try await Task.sleep(for: min(interval, deadline - now))
        }
    }

    /// Aborts the Rollout, as `kubectl argo rollouts abort` does: a merge patch of
    /// `{"status":{"abort":true}}` on its `/status` subresource. Argo then sends all traffic back
    /// to the stable ReplicaSet.
    ///
    /// - Parameter reason: why, for the log.
    /// - Throws: `KubernetesError`.
    public func abort(reason: String) async throws(KubernetesError) {
        logger.warning("aborting the Argo Rollout", metadata: [LogKeys.reason: "\(reason)"])
        let body: JSONValue = .object(["status": .object(["abort": .bool(true)])])
        _ = try await client.patch(JSONValue.self, rolloutPath + "/status", as: .merge, body: body)
    }

    // MARK: - Patch

    /// Sets the candidate on the container, unless the template already carries it.
    private func point(_ rollout: ArgoRolloutObject, at candidate: RolloutModel) async throws(KubernetesError) {
        let containers = rollout.spec.template.spec.containers
        guard let index = containers.firstIndex(where: { $0.name == configuration.container }) else {
            throw .configuration(
                "the Rollout \(configuration.namespace)/\(configuration.rollout) has no container "
                    + "\"\(configuration.container)\" (it has: \(containers.map(\.name).joined(separator: ", "))); "
                    + "set BATON_ARGO_CONTAINER to the model server's container")
        }
        let container = containers[index]
        if carries(container, candidate) {
            logger.info(
                "the Rollout already carries the candidate; following it",
                metadata: [LogKeys.version: "\(candidate.version)"]
            )
            return
        }
        let operations = Self.patchOperations(
            containerIndex: index, container: container, candidate: candidate, image: configuration.image)
        _ = try await client.patch(JSONValue.self, rolloutPath, as: .json, body: operations)
        logger.info(
            "pointed the Rollout at the candidate",
            metadata: [
                LogKeys.model: "\(candidate.name)", LogKeys.version: "\(candidate.version)",
                LogKeys.uri: "\(candidate.uri)",
            ])
    }

    private func carries(_ container: ArgoRolloutObject.Container, _ candidate: RolloutModel) -> Bool {
        container.environmentValue(EnvironmentName.uri) == candidate.uri
            && container.environmentValue(EnvironmentName.version) == String(candidate.version)
            && container.environmentValue(EnvironmentName.md5) == candidate.md5
            && (configuration.image == nil || container.image == configuration.image)
    }

    /// A JSON patch (RFC 6902) that tests the container's name, then replaces its `env` (Baton's
    /// variables set in place or appended, the others kept) and, when given, its image.
    static func patchOperations(
        containerIndex: Int, container: ArgoRolloutObject.Container, candidate: RolloutModel, image: String?
    ) -> [JSONValue] {
        let wanted: [(String, String?)] = [
            (EnvironmentName.uri, candidate.uri), (EnvironmentName.version, String(candidate.version)),
            (EnvironmentName.md5, candidate.md5),
        ]
        var environment: [JSONValue] = []
        var written: Set<String> = []
        for entry in container.env ?? [] {
            guard case .object(let object) = entry, case .string(let name) = object["name"],
                let value = wanted.first(where: { $0.0 == name })
            else {
                environment.append(entry)
                continue
            }
            written.insert(name)
            if let text = value.1 { environment.append(.object(["name": .string(name), "value": .string(text)])) }
        }
        for (name, value) in wanted where !written.contains(name) {
            if let value { environment.append(.object(["name": .string(name), "value": .string(value)])) }
        }
        let base = "/spec/template/spec/containers/\(containerIndex)"
        var operations: [JSONValue] = [
            .object(["op": .string("test"), "path": .string(base + "/name"), "value": .string(container.name)]),
            .object([
                "op": .string(container.env == nil ? "add" : "replace"), "path": .string(base + "/env"),
                "value": .array(environment),
            ]),
        ]
        if let image {
            operations.append(
                .object([
                    "op": .string(container.image == nil ? "add" : "replace"), "path": .string(base + "/image"),
                    "value": .string(image),
                ]))
        }
        return operations
    }

    // MARK: - Follow

    /// What the driver has seen of the Rollout so far.
    private struct Follower {
        let candidate: RolloutModel
        /// Steps reported so far (indices `0..<reported`).
        var reported = 0
        /// The AnalysisRun seen at each analysis step.
        var analysisRuns: [Int: String] = [:]
        /// A short account of the latest status, for timeout messages.
        var lastSeen = "not observed yet"

        /// Changes when the Rollout moves on (used to reset the poll interval).
        var progress: String { "\(reported) \(lastSeen)" }
    }

    /// Reads one status: reports the steps Argo completed since the last read, and returns the
    /// result once the rollout is over.
    private func follow(
        _ rollout: ArgoRolloutObject, with follower: inout Follower,
        report: @Sendable (RolloutStepReport) async throws -> Void
    ) async throws -> RolloutResult? {
        let candidate = follower.candidate
        if let container = rollout.spec.template.spec.containers.first(where: { $0.name == configuration.container }),
            container.environmentValue(EnvironmentName.uri) != candidate.uri
        {
            return .aborted(
                reason: "the Rollout's template no longer carries \(candidate.name) v\(candidate.version) "
                    + "(\(EnvironmentName.uri) is now \(container.environmentValue(EnvironmentName.uri) ?? "unset")); "
                    + "someone else changed it")
        }
        guard rollout.isObserved, let status = rollout.status else { return nil }
        let steps = rollout.steps
        let current = min(status.currentStepIndex ?? 0, steps.count)
        follower.lastSeen = "phase \(status.phase ?? "unknown"), step \(current) of \(steps.count)"
        if let run = status.canary?.currentStepAnalysisRunStatus?.name { follower.analysisRuns[current] = run }

        for index in follower.reported..<max(current, follower.reported) {
            try await report(
                await stepReport(index, of: steps, phase: "succeeded", analysisRun: follower.analysisRuns[index]))
            follower.reported = index + 1
        }

        if status.abort == true || status.phase == "Degraded" {
            if status.abort != true {
                try await abort(reason: "the Rollout is Degraded: \(status.message ?? "no message")")
            }
            let failing = min(current, max(steps.count - 1, 0))
            let analysis = await analysisRun(
                status.canary?.currentStepAnalysisRunStatus?.name ?? follower.analysisRuns[failing])
            var reason = "Argo aborted the rollout of \(candidate.name) v\(candidate.version)"
            reason +=
                ": "
                + (status.message ?? status.canary?.currentStepAnalysisRunStatus?.message
                    ?? "phase \(status.phase ?? "unknown")")
            if let failures = analysis?.failures, !failures.isEmpty {
                reason += "; " + failures.joined(separator: "; ")
            }
            if !steps.isEmpty {
                try await report(
                    RolloutStepReport(
                        index: failing, kind: steps[failing].kind, weight: 0, phase: "failed",
                        measurements: analysis?.measurements ?? [:], message: reason))
            }
            return .aborted(reason: reason)
        }

        guard status.phase == "Healthy", let stable = status.stableRS, stable == status.currentPodHash else {
            return nil
        }
        for index in follower.reported..<steps.count {
            try await report(
                await stepReport(index, of: steps, phase: "succeeded", analysisRun: follower.analysisRuns[index]))
            follower.reported = index + 1
        }
        logger.info("the Rollout is Healthy on the candidate", metadata: [LogKeys.version: "\(candidate.version)"])
        return .succeeded
    }

    private func stepReport(_ index: Int, of steps: [ArgoCanaryStep], phase: String, analysisRun name: String?)
        async -> RolloutStepReport
    {
        let measurements = steps[index].kind == "analysis" ? await analysisRun(name)?.measurements : nil
        return RolloutStepReport(
            index: index, kind: steps[index].kind, weight: ArgoCanaryStep.weight(after: index, of: steps),
            phase: phase, measurements: measurements ?? [:])
    }

    /// The AnalysisRun `name`, or nil when there is none or it cannot be read (its measurements
    /// then go unreported; the rollout's outcome does not depend on them).
    private func analysisRun(_ name: String?) async -> ArgoAnalysisRun? {
        guard let name else { return nil }
        do {
            return try await client.get(
                ArgoAnalysisRun.self,
                "/apis/argoproj.io/v1alpha1/namespaces/\(KubernetesClient.segment(configuration.namespace))"
                    + "/analysisruns/\(KubernetesClient.segment(name))")
        } catch {
            logger.warning(
                "cannot read the AnalysisRun", metadata: [LogKeys.analysisRun: "\(name)", LogKeys.error: "\(error)"])
            return nil
        }
    }

    // MARK: - Reads

    private var rolloutPath: String {
        "/apis/argoproj.io/v1alpha1/namespaces/\(KubernetesClient.segment(configuration.namespace))"
            + "/rollouts/\(KubernetesClient.segment(configuration.rollout))"
    }

    private func fetchRollout() async throws(KubernetesError) -> ArgoRolloutObject {
        try await client.get(ArgoRolloutObject.self, rolloutPath)
    }

    /// The Rollout, or nil after an error that may pass (the API server down or slow for a
    /// moment); other errors are thrown.
    private func fetchRolloutRetrying() async throws(KubernetesError) -> ArgoRolloutObject? {
        do {
            return try await fetchRollout()
        } catch  where error.isRetriable {
            logger.warning("cannot read the Argo Rollout; trying again", metadata: [LogKeys.error: "\(error)"])
            return nil
        }
    }
}
