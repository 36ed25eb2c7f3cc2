import BatonCore

/// The Ray Serve canary's errors.
public enum RayServeCanaryErrorDomain: RolloutErrorDomain {}

/// Why a Ray Serve canary could not run (as opposed to a failed analysis, which aborts it).
public typealias RayServeCanaryError = ServiceError<RayServeCanaryErrorDomain>

extension ServiceErrorCode where Domain == RayServeCanaryErrorDomain {
    /// Ray Serve or Prometheus could not be reached or did not answer in time.
    public static var unavailable: Self { Self(rawValue: "unavailable") }
    /// Ray Serve refused the applications or could not deploy them.
    public static var deployFailed: Self { Self(rawValue: "deploy_failed") }
    /// An answer that is not the documented JSON.
    public static var badResponse: Self { Self(rawValue: "bad_response") }
}

extension ServiceError where Domain == RayServeCanaryErrorDomain {
    /// Ray Serve or Prometheus is away: a later attempt may succeed.
    public static func unavailable(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.unavailable, reason, isRetriable: true, file: file, line: line)
    }

    /// Ray Serve refused or failed the deployment.
    public static func deployFailed(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.deployFailed, reason, isRetriable: false, file: file, line: line)
    }

    /// An answer that is not the documented JSON.
    public static func badResponse(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.badResponse, reason, isRetriable: false, file: file, line: line)
    }
}
