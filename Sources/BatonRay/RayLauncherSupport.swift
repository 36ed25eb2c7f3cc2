// MARK: - Building results in other launchers

// A `RayJobLauncher` that lives in another module (KubeRay) reports jobs with these initializers
// (and errors with `RayError`'s public initializer); the Jobs API client decodes its own.

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
