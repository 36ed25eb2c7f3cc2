import BatonCore
import BatonHTTPClient
import Foundation
import NIOHTTP1

/// The Kubernetes API's errors (and those of reading its configuration).
public enum KubernetesErrorDomain: RolloutErrorDomain {}

/// An error from the Kubernetes API or from reading its configuration, carrying the API server's
/// own message (`Status.message`).
public typealias KubernetesError = ServiceError<KubernetesErrorDomain>

extension ServiceErrorCode where Domain == KubernetesErrorDomain {
    /// The API server could not be reached or did not answer in time.
    public static var unavailable: Self { Self(rawValue: "unavailable") }
    /// The API server answered with an error status.
    public static var rejected: Self { Self(rawValue: "rejected") }
    /// No such object (HTTP 404).
    public static var notFound: Self { Self(rawValue: "not_found") }
    /// An object with that name exists already (HTTP 409 `AlreadyExists`).
    public static var alreadyExists: Self { Self(rawValue: "already_exists") }
    /// The API server answered with something that is not the documented JSON, or too much of it.
    public static var badResponse: Self { Self(rawValue: "bad_response") }
    /// The in-cluster files, the kubeconfig or the launcher settings are missing or invalid.
    public static var configuration: Self { Self(rawValue: "configuration") }
}

extension ServiceError where Domain == KubernetesErrorDomain {
    /// The API server's side of a failed `method path`: a refusal carries its `Status.message`;
    /// 404 is `.notFound`, 409 `AlreadyExists` is `.alreadyExists`.
    package init(
        _ failure: HTTPCallFailure, method: HTTPMethod, path: String, file: String = #fileID, line: Int = #line
    ) {
        guard failure.kind == .refused, let status = failure.status else {
            self.init(
                failure.kind == .unavailable ? .unavailable : .badResponse, failure.reason, status: failure.status,
                isRetriable: failure.isRetriable, file: file, line: line)
            return
        }
        let answer = try? JSONDecoder().decode(KubernetesStatus.self, from: Data(failure.body))
        let message = answer?.message ?? String(decoding: failure.body.prefix(1024), as: UTF8.self)
        let code: Code =
            switch status {
            case 404: .notFound
            case 409 where answer?.reason == nil || answer?.reason == "AlreadyExists": .alreadyExists
            default: .rejected
            }
        self.init(
            code, "Kubernetes refused \(method) \(path): \(message)", status: status,
            isRetriable: failure.isRetriable, file: file, line: line)
    }

    package static func badResponse(_ reason: String, status: Int?, file: String = #fileID, line: Int = #line)
        -> Self
    {
        Self(.badResponse, reason, status: status, isRetriable: false, file: file, line: line)
    }

    package static func configuration(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.configuration, reason, isRetriable: false, file: file, line: line)
    }
}

/// The API server's `Status` object, as much of it as an error quotes.
private struct KubernetesStatus: Decodable {
    var message: String?
    var reason: String?
}
