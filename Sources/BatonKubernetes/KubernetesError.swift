import BatonCore

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

    package static func unavailable(_ reason: String, file: String = #fileID, line: Int = #line) -> KubernetesError {
        KubernetesError(code: .unavailable, reason: reason, status: nil, isRetriable: true, file: file, line: line)
    }

    package static func rejected(
        _ reason: String, status: Int, apiReason: String?, file: String = #fileID, line: Int = #line
    )
        -> KubernetesError
    {
        let code: Code =
            switch status {
            case 404: .notFound
            case 409 where apiReason == nil || apiReason == "AlreadyExists": .alreadyExists
            default: .rejected
            }
        return KubernetesError(
            code: code, reason: reason, status: status, isRetriable: status >= 500 || status == 429, file: file,
            line: line)
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
