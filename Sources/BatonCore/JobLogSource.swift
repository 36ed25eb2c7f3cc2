/// Where the driver log of a stage's job is read: the Ray launcher (the Jobs API or KubeRay),
/// handed in by the executable so that readers (the API, the CLI) need not name Ray.
public protocol JobLogSource: Sendable {
    /// The job's driver log as it stands: all of it, or its end when it is long.
    ///
    /// - Throws: ``JobLogError``: `.notFound` when the platform has no such job, `.unavailable`
    ///   when it does not answer (retriable), `.failed` for any other refusal.
    func jobLog(submissionID: String) async throws(JobLogError) -> String
}

/// Errors of reading a job log.
public enum JobLogErrorDomain: ServiceErrorDomain {}

/// An error of a ``JobLogSource``, carrying the platform's own message.
public typealias JobLogError = ServiceError<JobLogErrorDomain>

extension ServiceErrorCode where Domain == JobLogErrorDomain {
    /// The platform has no job with that submission id (never started, or deleted since).
    public static var notFound: Self { Self(rawValue: "not_found") }
    /// The platform did not answer in time.
    public static var unavailable: Self { Self(rawValue: "unavailable") }
    /// The platform refused, or answered with something unreadable.
    public static var failed: Self { Self(rawValue: "failed") }
}
