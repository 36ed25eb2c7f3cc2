import BatonCore

/// A Ray job's state (`GET /api/jobs/{submission_id}`).
public struct RayJobDetails: Sendable, Hashable, Decodable {
    /// Ray's job status.
    public enum Status: String, Sendable, Hashable, Decodable {
        case pending = "PENDING"
        case running = "RUNNING"
        case stopped = "STOPPED"
        case succeeded = "SUCCEEDED"
        case failed = "FAILED"

        /// Whether the job has ended.
        public var isTerminal: Bool { self == .stopped || self == .succeeded || self == .failed }
    }

    /// The id the job was submitted with (Baton's attempt id).
    public var submissionID: String?
    /// Ray's own job id (`raysubmit_...` or the driver's job id).
    public var jobID: String?
    /// Where the job is in its life.
    public var status: Status
    /// The shell command Ray runs.
    public var entrypoint: String?
    /// Ray's explanation of the status (the driver's error for failures).
    public var message: String?
    /// Ray's class of failure, e.g. `JOB_ENTRYPOINT_COMMAND_ERROR`.
    public var errorType: String?
    /// The driver's exit code, once it exited.
    public var driverExitCode: Int?
    /// Milliseconds since the epoch.
    public var startTime: Int64?
    /// Milliseconds since the epoch; nil until the job ended.
    public var endTime: Int64?
    /// The labels submitted with the job (run, stage, attempt).
    public var metadata: [String: String]?

    enum CodingKeys: String, CodingKey {
        case status, entrypoint, message, metadata
        case submissionID = "submission_id"
        case jobID = "job_id"
        case errorType = "error_type"
        case driverExitCode = "driver_exit_code"
        case startTime = "start_time"
        case endTime = "end_time"
    }
}
