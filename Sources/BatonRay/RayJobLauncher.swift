import BatonCore
import Foundation

/// Something that runs one Ray job per stage attempt: the Ray Jobs API on a long-lived
/// cluster (`RayJobClient`), or a KubeRay `RayJob` per attempt.
///
/// Every method is idempotent for a given submission id: submitting twice runs one job,
/// stopping an ended job is not an error.
public protocol RayJobLauncher: Sendable {
    /// The server's version, used to send only the fields it knows.
    func version() async throws(RayError) -> RayServerVersion
    /// Starts the job, or returns the job already started under this submission id.
    func submit(_ submission: RayJobSubmission, server: RayServerVersion) async throws(RayError) -> RayJobDetails
    /// The job's state; `RayError.Code.notFound` when the launcher does not know it.
    func job(_ submissionID: String) async throws(RayError) -> RayJobDetails
    /// The job's driver log.
    func logs(_ submissionID: String) async throws(RayError) -> String
    /// Asks for the job to stop; `false` when it had already ended.
    func stop(_ submissionID: String) async throws(RayError) -> Bool
    /// The `runtime_env.working_dir` value that makes a local folder available to the job.
    func workingDirectory(for folder: URL) async throws(RayError) -> String
}

extension RayJobLauncher {
    /// By default the folder's path, which must then exist where the job's driver runs.
    public func workingDirectory(for folder: URL) async throws(RayError) -> String { folder.path }
}

extension RayJobClient: RayJobLauncher {}
