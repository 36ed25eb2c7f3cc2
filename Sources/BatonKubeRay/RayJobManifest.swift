import BatonCore
import BatonKubernetes
import BatonRay
import Foundation

/// The `RayJob` object (`ray.io/v1`) that runs one submission.
enum RayJobManifest {
    /// Label keys Baton puts on its RayJobs.
    enum Label {
        static let managedBy = "app.kubernetes.io/managed-by"
        static let runID = "baton/run-id"
        static let stage = "baton/stage"
        static let attempt = "baton/attempt"
        static let attemptID = "baton/attempt-id"
    }

    /// The annotation holding the submission id exactly (the name may be shortened).
    static let submissionIDAnnotation = "baton/submission-id"

    /// The object to `POST`.
    ///
    /// `runtimeEnvYAML` is the runtime env as JSON (JSON is YAML), so params and inputs stay JSON
    /// inside `env_vars`. `entrypointMemory` has no RayJob field and is not sent.
    static func make(
        _ submission: RayJobSubmission, name: String, configuration: KubeRayLauncher.Configuration
    ) -> JSONValue {
        var labels = configuration.labels.mapValues(labelValue)
        labels[Label.managedBy] = "baton"
        labels[Label.attemptID] = labelValue(submission.submissionID)
        if let run = submission.metadata["baton_run_id"] { labels[Label.runID] = labelValue(run) }
        if let stage = submission.metadata["baton_stage"] { labels[Label.stage] = labelValue(stage) }
        if let attempt = submission.metadata["baton_attempt"] { labels[Label.attempt] = labelValue(attempt) }

        var spec: [String: JSONValue] = [
            "entrypoint": .string(submission.entrypoint),
            "jobId": .string(submission.submissionID),
            "metadata": .object(submission.metadata.mapValues(JSONValue.string)),
        ]
        if !submission.runtimeEnv.isEmpty {
            let json = (try? CloudEvent.encode(submission.runtimeEnv)).map { String(decoding: $0, as: UTF8.self) }
            spec["runtimeEnvYAML"] = json.map(JSONValue.string)
        }
        if let cpus = submission.entrypointNumCPUs { spec["entrypointNumCpus"] = .double(cpus) }
        if let gpus = submission.entrypointNumGPUs { spec["entrypointNumGpus"] = .double(gpus) }
        if !submission.entrypointResources.isEmpty,
            let json = try? CloudEvent.encode(submission.entrypointResources)
        {
            // KubeRay takes the resources as a JSON string, as `ray job submit --entrypoint-resources` does.
            spec["entrypointResources"] = .string(String(decoding: json, as: UTF8.self))
        }
        if let deadline = configuration.activeDeadline {
            spec["activeDeadlineSeconds"] = .int(max(1, deadline.components.seconds))
        }
        switch configuration.cluster {
        case .template(let clusterSpec):
            spec["rayClusterSpec"] = clusterSpec
            spec["shutdownAfterJobFinishes"] = .bool(true)
            spec["ttlSecondsAfterFinished"] = .int(max(0, configuration.ttlAfterFinished.components.seconds))
        case .selector(let selector):
            // The cluster is shared and outlives the job: KubeRay neither deletes it nor accepts a TTL
            // without shutdownAfterJobFinishes.
            spec["clusterSelector"] = .object(selector.mapValues(JSONValue.string))
        }
        if let mode = configuration.submissionMode { spec["submissionMode"] = .string(mode) }

        return .object([
            "apiVersion": .string("ray.io/v1"),
            "kind": .string("RayJob"),
            "metadata": .object([
                "name": .string(name),
                "namespace": .string(configuration.kubernetes.namespace),
                "labels": .object(labels.mapValues(JSONValue.string)),
                "annotations": .object([submissionIDAnnotation: .string(submission.submissionID)]),
            ]),
            "spec": .object(spec),
        ])
    }

    /// A valid label value: at most 63 of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
    static func labelValue(_ value: String) -> String {
        var cleaned = String(
            value.prefix(63).map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        while let first = cleaned.first, !(first.isLetter || first.isNumber) { cleaned.removeFirst() }
        while let last = cleaned.last, !(last.isLetter || last.isNumber) { cleaned.removeLast() }
        return cleaned
    }
}
