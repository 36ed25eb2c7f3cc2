import BatonCore
import BatonHTTPClient
import Foundation

/// An MLflow tracking server's errors.
public enum MLflowErrorDomain: ServiceErrorDomain {}

/// An error from an MLflow tracking server, carrying MLflow's own `error_code` and message.
///
/// MLflow answers most refusals with HTTP 400 whatever their cause (an experiment that already
/// exists is `RESOURCE_ALREADY_EXISTS` with status 400), so callers match on `code`, never on
/// `status`.
public typealias MLflowError = ServiceError<MLflowErrorDomain>

/// MLflow's `error_code` when MLflow answered, or one of Baton's own (`BATON_UNREACHABLE`,
/// `BATON_BAD_RESPONSE`) when it did not answer usefully.
extension ServiceErrorCode where Domain == MLflowErrorDomain {
    /// The name (experiment, param) is taken.
    public static var resourceAlreadyExists: Self { Self(rawValue: "RESOURCE_ALREADY_EXISTS") }
    /// No such experiment or run.
    public static var resourceDoesNotExist: Self { Self(rawValue: "RESOURCE_DOES_NOT_EXIST") }
    /// A value MLflow refuses (too long, a changed param, a bad filter ...).
    public static var invalidParameterValue: Self { Self(rawValue: "INVALID_PARAMETER_VALUE") }
    /// The caller is not authenticated.
    public static var unauthenticated: Self { Self(rawValue: "UNAUTHENTICATED") }
    /// The caller may not do this.
    public static var permissionDenied: Self { Self(rawValue: "PERMISSION_DENIED") }
    /// MLflow failed on its side.
    public static var internalError: Self { Self(rawValue: "INTERNAL_ERROR") }
    /// MLflow could not be reached, or did not answer in time (Baton's code).
    public static var unreachable: Self { Self(rawValue: "BATON_UNREACHABLE") }
    /// MLflow answered something that is not the documented JSON (Baton's code).
    public static var badResponse: Self { Self(rawValue: "BATON_BAD_RESPONSE") }
}

extension ServiceError where Domain == MLflowErrorDomain {
    /// MLflow's side of a failed call to `endpoint`: a refusal carries MLflow's own `error_code`
    /// and message (or a code from its status when the body has none).
    init(_ failure: HTTPCallFailure, endpoint: String, file: String = #fileID, line: Int = #line) {
        switch failure.kind {
        case .unavailable:
            self.init(.unreachable, failure.reason, isRetriable: true, file: file, line: line)
        case .badResponse:
            self.init(
                .badResponse, failure.reason, status: failure.status, isRetriable: failure.isRetriable, file: file,
                line: line)
        case .refused:
            let status = failure.status ?? 500
            let refusal = try? JSONDecoder().decode(MLflowRefusal.self, from: Data(failure.body))
            let message = refusal?.message ?? String(decoding: failure.body.prefix(1000), as: UTF8.self)
            let code = refusal?.errorCode.map(Code.init(rawValue:)) ?? Self.code(status: status)
            let retriable =
                failure.isRetriable || code == Code(rawValue: "TEMPORARILY_UNAVAILABLE")
                || code == Code(rawValue: "REQUEST_LIMIT_EXCEEDED")
            self.init(
                code, "MLflow refused \(endpoint): \(message)", status: status, isRetriable: retriable, file: file,
                line: line)
        }
    }

    private static func code(status: Int) -> Code {
        switch status {
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .resourceDoesNotExist
        case 400..<500: .invalidParameterValue
        default: .internalError
        }
    }

    static func badResponse(_ reason: String, status: Int?, file: String = #fileID, line: Int = #line) -> Self {
        Self(.badResponse, reason, status: status, isRetriable: false, file: file, line: line)
    }
}

/// MLflow's error body: `{"error_code": ..., "message": ...}`.
private struct MLflowRefusal: Decodable {
    var errorCode: String?
    var message: String?
    enum CodingKeys: String, CodingKey {
        case message
        case errorCode = "error_code"
    }
}
