import BatonRay
import Foundation

/// A `RayJob` as the API server returns it: the parts Baton reads.
struct RayJobResource: Decodable, Sendable {
    struct Metadata: Decodable, Sendable {
        var name: String
        var deletionTimestamp: String?
        var annotations: [String: String]?
    }

    struct Spec: Decodable, Sendable {
        var entrypoint: String?
        var jobId: String?
        var metadata: [String: String]?
    }

    struct Status: Decodable, Sendable {
        var jobId: String?
        var rayClusterName: String?
        var dashboardURL: String?
        var jobStatus: String?
        var jobDeploymentStatus: String?
        var reason: String?
        var message: String?
        var startTime: String?
        var endTime: String?
    }

    var metadata: Metadata
    var spec: Spec?
    var status: Status?

    /// Whether the object is being deleted (a finalizer holds it while KubeRay stops the job).
    var isDeleting: Bool { metadata.deletionTimestamp != nil }

    /// The job's state in Ray's terms.
    func details(submissionID: String) -> RayJobDetails {
        let mapped = Self.status(
            jobDeploymentStatus: status?.jobDeploymentStatus, jobStatus: status?.jobStatus, isDeleting: isDeleting)
        var message = status?.message.flatMap { $0.isEmpty ? nil : $0 }
        if message == nil, let explanation = mapped.explanation { message = explanation }
        let isFailure = mapped.status == .failed || mapped.status == .stopped
        return RayJobDetails(
            status: mapped.status,
            submissionID: metadata.annotations?[RayJobManifest.submissionIDAnnotation] ?? submissionID,
            jobID: status?.jobId ?? spec?.jobId, entrypoint: spec?.entrypoint, message: message,
            errorType: isFailure ? status?.reason.flatMap { $0.isEmpty ? nil : $0 } : nil,
            startTime: Self.milliseconds(status?.startTime), endTime: Self.milliseconds(status?.endTime),
            metadata: spec?.metadata)
    }

    /// Maps KubeRay's two statuses to one Ray job status.
    ///
    /// - `Retrying` is PENDING: KubeRay is starting a new cluster after a failed try
    ///   (`backoffLimit`), whatever the last try's job status was.
    /// - A terminal `jobStatus` (SUCCEEDED, FAILED, STOPPED) is the answer: Ray has finished.
    /// - `jobDeploymentStatus` `Failed` without one is FAILED: KubeRay gave up (cluster never
    ///   ready, submission failed, `activeDeadlineSeconds` passed; `reason` says which).
    /// - `Suspending`/`Suspended`, or an object being deleted, is STOPPED.
    /// - `Complete` without a terminal job status is FAILED (KubeRay lost the job's outcome).
    /// - `jobStatus` RUNNING is RUNNING; everything else (New, Initializing, Waiting, Retrying,
    ///   PENDING) is PENDING.
    static func status(jobDeploymentStatus: String?, jobStatus: String?, isDeleting: Bool)
        -> (status: RayJobDetails.Status, explanation: String?)
    {
        if jobDeploymentStatus == "Retrying" { return (.pending, nil) }
        if let job = jobStatus.flatMap(RayJobDetails.Status.init(rawValue:)), job.isTerminal { return (job, nil) }
        switch jobDeploymentStatus {
        case "Failed": return (.failed, "KubeRay marked the RayJob Failed")
        case "Suspending", "Suspended": return (.stopped, "the RayJob was suspended")
        case _ where isDeleting: return (.stopped, "the RayJob is being deleted")
        case "Complete": return (.failed, "KubeRay marked the RayJob Complete without a final job status")
        default: return (jobStatus == "RUNNING" ? .running : .pending, nil)
        }
    }

    /// Milliseconds since the epoch of an RFC 3339 time (`metav1.Time`).
    static func milliseconds(_ time: String?) -> Int64? {
        guard let time, let date = try? Date(time, strategy: .iso8601) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
