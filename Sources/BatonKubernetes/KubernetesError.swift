import BatonCore
import BatonHTTPClient
import Foundation
import NIOHTTP1

/// An error from the Kubernetes API or from reading its configuration, carrying the API server's
/// own message (`Status.message`).
public struct KubernetesError: RolloutDriverError, Sendable {
    /// A class of Kubernetes error; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        /// The API server could not be reached or did not answer in time.
        public static let unavailable = Code(name: "unavailable")
        /// The API server answered with an error status.
        public static let rejected = Code(name: "rejected")
        /// No such object (HTTP 404).
        public static let notFound = Code(name: "not_found")
        /// An object with that name exists already (HTTP 409 `AlreadyExists`).
        public static let alreadyExists = Code(name: "already_exists")
        /// The API server answered with something that is not the documented JSON, or too much of it.
        public static let badResponse = Code(name: "bad_response")
        /// The in-cluster files, the kubeconfig or the launcher settings are missing or invalid.
        public static let configuration = Code(name: "configuration")
        public var description: String { name }
    }

    public var code: Code
    /// What happened, with the API server's message when it sent one.
    public var reason: String
    /// The HTTP status the API server answered with, if it answered.
    public var status: Int?
    /// Whether trying again later may succeed.
    public var isRetriable: Bool
    public var file: String
    public var line: Int

    public var description: String { reason + (status.map { " (HTTP \($0))" } ?? "") + " [\(code)]" }

    private init(code: Code, reason: String, status: Int?, isRetriable: Bool, file: String, line: Int) {
        (self.code, self.reason, self.status, self.isRetriable) = (code, reason, status, isRetriable)
        (self.file, self.line) = (file, line)
    }

    /// The API server's side of a failed `method path`: a refusal carries its `Status.message`;
    /// 404 is `.notFound`, 409 `AlreadyExists` is `.alreadyExists`.
    package init(
        _ failure: HTTPCallFailure, method: HTTPMethod, path: String, file: String = #fileID, line: Int = #line
    ) {
        guard failure.kind == .refused, let status = failure.status else {
            self.init(
                code: failure.kind == .unavailable ? .unavailable : .badResponse, reason: failure.reason,
                status: failure.status, isRetriable: failure.isRetriable, file: file, line: line)
            return
        }
        struct Status: Decodable {
            var message: String?
            var reason: String?
        }
        let answer = try? JSONDecoder().decode(Status.self, from: Data(failure.body))
        let message = answer?.message ?? String(decoding: failure.body.prefix(1024), as: UTF8.self)
        let code: Code =
            switch status {
            case 404: .notFound
            case 409 where answer?.reason == nil || answer?.reason == "AlreadyExists": .alreadyExists
            default: .rejected
            }
        self.init(
            code: code, reason: "Kubernetes refused \(method) \(path): \(message)", status: status,
            isRetriable: failure.isRetriable, file: file, line: line)
    }

    package static func badResponse(_ reason: String, status: Int?, file: String = #fileID, line: Int = #line)
        -> KubernetesError
    {
        KubernetesError(code: .badResponse, reason: reason, status: status, isRetriable: false, file: file, line: line)
    }

    package static func configuration(_ reason: String, file: String = #fileID, line: Int = #line) -> KubernetesError {
        KubernetesError(code: .configuration, reason: reason, status: nil, isRetriable: false, file: file, line: line)
    }
}
