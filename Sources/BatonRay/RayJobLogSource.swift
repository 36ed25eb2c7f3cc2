import BatonCore

/// Job logs read through a ``RayJobLauncher``: the Ray Jobs API, or the dashboard of a KubeRay
/// job's cluster.
public struct RayJobLogSource: JobLogSource {
    /// What launched the jobs.
    public let launcher: any RayJobLauncher

    /// Logs read through `launcher`.
    public init(launcher: any RayJobLauncher) { self.launcher = launcher }

    public func jobLog(submissionID: String) async throws(JobLogError) -> String {
        do {
            return try await launcher.logs(submissionID)
        } catch {
            let code: JobLogError.Code =
                switch error.code {
                case .notFound: .notFound
                case .unavailable: .unavailable
                default: .failed
                }
            throw JobLogError(code, "Ray: \(error.reason)", status: error.status, isRetriable: error.isRetriable)
        }
    }
}
