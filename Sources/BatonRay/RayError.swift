import BatonCore
import BatonHTTPClient

/// The Ray Jobs API's errors.
public enum RayErrorDomain: ServiceErrorDomain {}

/// An error from the Ray Jobs API (or another ``RayJobLauncher``), carrying Ray's own message.
public typealias RayError = ServiceError<RayErrorDomain>

extension ServiceErrorCode where Domain == RayErrorDomain {
    /// Ray could not be reached or did not answer in time.
    public static var unavailable: Self { Self(rawValue: "unavailable") }
    /// Ray answered with an error status.
    public static var rejected: Self { Self(rawValue: "rejected") }
    /// No job with that submission id.
    public static var notFound: Self { Self(rawValue: "not_found") }
    /// Ray answered with something that is not the documented JSON.
    public static var badResponse: Self { Self(rawValue: "bad_response") }
}

extension ServiceError where Domain == RayErrorDomain {
    /// Ray's side of a failed call: 404 is `.notFound`, other refusals `.rejected`.
    init(_ failure: HTTPCallFailure, file: String = #fileID, line: Int = #line) {
        let code: Code =
            switch failure.kind {
            case .unavailable: .unavailable
            case .refused: failure.isNotFound ? .notFound : .rejected
            case .badResponse: .badResponse
            }
        self.init(
            code, failure.reason, status: failure.status, isRetriable: failure.isRetriable, file: file, line: line)
    }

    static func badResponse(_ reason: String, status: Int?, file: String = #fileID, line: Int = #line) -> Self {
        Self(.badResponse, reason, status: status, isRetriable: false, file: file, line: line)
    }
}
