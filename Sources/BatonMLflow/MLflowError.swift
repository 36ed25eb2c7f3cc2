import BatonHTTPClient
import Foundation

/// An error from an MLflow tracking server, carrying MLflow's own `error_code` and message.
///
/// MLflow answers most refusals with HTTP 400 whatever their cause (an experiment that already
/// exists is `RESOURCE_ALREADY_EXISTS` with status 400), so callers match on ``code``, never on
/// ``status``.
public struct MLflowError: Error, Sendable, CustomStringConvertible {
    /// A class of error: MLflow's `error_code` when MLflow answered, or one of Baton's own
    /// (``unreachable``, ``badResponse``) when it did not answer usefully.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code as MLflow spells it, e.g. `RESOURCE_ALREADY_EXISTS`.
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The name (experiment, param) is taken.
        public static let resourceAlreadyExists = Code(rawValue: "RESOURCE_ALREADY_EXISTS")
        /// No such experiment or run.
        public static let resourceDoesNotExist = Code(rawValue: "RESOURCE_DOES_NOT_EXIST")
        /// A value MLflow refuses (too long, a changed param, a bad filter ...).
        public static let invalidParameterValue = Code(rawValue: "INVALID_PARAMETER_VALUE")
        /// The caller is not authenticated.
        public static let unauthenticated = Code(rawValue: "UNAUTHENTICATED")
        /// The caller may not do this.
        public static let permissionDenied = Code(rawValue: "PERMISSION_DENIED")
        /// MLflow failed on its side.
        public static let internalError = Code(rawValue: "INTERNAL_ERROR")
        /// MLflow could not be reached, or did not answer in time (Baton's code).
        public static let unreachable = Code(rawValue: "BATON_UNREACHABLE")
        /// MLflow answered something that is not the documented JSON (Baton's code).
        public static let badResponse = Code(rawValue: "BATON_BAD_RESPONSE")
    }

    /// What kind of error.
    public var code: Code
    /// MLflow's message, or what went wrong on the way to it.
    public var reason: String
    /// The HTTP status MLflow answered with, if it answered.
    public var status: Int?
    /// Whether trying again later may succeed (MLflow unreachable, overloaded or failing).
    public var isRetriable: Bool
    public var file: String
    public var line: Int

    public var description: String {
        "\(reason) [\(code)\(status.map { ", HTTP \($0)" } ?? "")]"
    }

    private init(code: Code, reason: String, status: Int?, isRetriable: Bool, file: String, line: Int) {
        (self.code, self.reason, self.status, self.isRetriable) = (code, reason, status, isRetriable)
        (self.file, self.line) = (file, line)
    }

    /// MLflow's side of a failed call to `endpoint`: a refusal carries MLflow's own `error_code`
    /// and message (or a code from its status when the body has none).
    init(_ failure: HTTPCallFailure, endpoint: String, file: String = #fileID, line: Int = #line) {
        switch failure.kind {
        case .unavailable:
            self.init(
                code: .unreachable, reason: failure.reason, status: nil, isRetriable: true, file: file, line: line)
        case .badResponse:
            self.init(
                code: .badResponse, reason: failure.reason, status: failure.status, isRetriable: failure.isRetriable,
                file: file, line: line)
        case .refused:
            struct Refusal: Decodable {
                var errorCode: String?
                var message: String?
                enum CodingKeys: String, CodingKey {
                    case message
                    case errorCode = "error_code"
                }
            }
            let status = failure.status ?? 500
            let refusal = try? JSONDecoder().decode(Refusal.self, from: Data(failure.body))
            let message = refusal?.message ?? String(decoding: failure.body.prefix(1000), as: UTF8.self)
            let code = refusal?.errorCode.map(Code.init(rawValue:)) ?? Self.code(status: status)
            let retriable =
                failure.isRetriable || code == Code(rawValue: "TEMPORARILY_UNAVAILABLE")
                || code == Code(rawValue: "REQUEST_LIMIT_EXCEEDED")
            self.init(
                code: code, reason: "MLflow refused \(endpoint): \(message)", status: status, isRetriable: retriable,
                file: file, line: line)
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

    static func badResponse(_ reason: String, status: Int?, file: String = #fileID, line: Int = #line) -> MLflowError {
        MLflowError(code: .badResponse, reason: reason, status: status, isRetriable: false, file: file, line: line)
    }
}
