// MARK: - Building results in other launchers

// A `RayJobLauncher` that lives in another module (KubeRay) reports jobs and errors with these
// initializers; the Jobs API client decodes its own.

extension RayError {
    /// Makes an error for a launcher outside this module.
    ///
    /// - Parameters:
    ///   - code: the class of error; `.notFound` tells the engine the launcher does not know the job.
    ///   - reason: a sentence a user can act on, with the remote system's own message.
    ///   - status: the HTTP status the remote system answered with, if it answered.
    ///   - isRetriable: whether trying again later may succeed.
    public init(
        _ code: Code, _ reason: String, status: Int? = nil, isRetriable: Bool, file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.status = status
        self.isRetriable = isRetriable
        self.file = file
        self.line = line
    }
}

extension RayJobDetails {
    /// Makes a job's state for a launcher outside this module.
    ///
    /// - Parameters:
    ///   - startTime: milliseconds since the epoch.
    ///   - endTime: milliseconds since the epoch.
    public init(
        status: Status, submissionID: String?, jobID: String? = nil, entrypoint: String? = nil,
        message: String? = nil, errorType: String? = nil, driverExitCode: Int? = nil,
        startTime: Int64? = nil, endTime: Int64? = nil, metadata: [String: String]? = nil
    ) {
        self.submissionID = submissionID
        self.jobID = jobID
        self.status = status
        self.entrypoint = entrypoint
        self.message = message
        self.errorType = errorType
        self.driverExitCode = driverExitCode
        self.startTime = startTime
        self.endTime = endTime
        self.metadata = metadata
    }
}
