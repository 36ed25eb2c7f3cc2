import BatonHTTPClient

/// An error from the Ray Jobs API, carrying Ray's own message.
public struct RayError: Error, Sendable, CustomStringConvertible {
    /// A class of Ray error; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        /// Ray could not be reached or did not answer in time.
        public static let unavailable = Code(name: "unavailable")
        /// Ray answered with an error status.
        public static let rejected = Code(name: "rejected")
        /// No job with that submission id.
        public static let notFound = Code(name: "not_found")
        /// Ray answered with something that is not the documented JSON.
        public static let badResponse = Code(name: "bad_response")
        public var description: String { name }
    }

    public var code: Code
    /// What happened, with Ray's message when it sent one.
    public var reason: String
    /// The HTTP status Ray answered with, if it answered.
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

    /// Ray's side of a failed call: 404 is `.notFound`, other refusals `.rejected`.
    init(_ failure: HTTPCallFailure, file: String = #fileID, line: Int = #line) {
        let code: Code =
            switch failure.kind {
            case .unavailable: .unavailable
            case .refused: failure.isNotFound ? .notFound : .rejected
            case .badResponse: .badResponse
            }
        self.init(
            code: code, reason: failure.reason, status: failure.status, isRetriable: failure.isRetriable, file: file,
            line: line)
    }

    static func badResponse(_ reason: String, status: Int?, file: String = #fileID, line: Int = #line) -> RayError {
        RayError(code: .badResponse, reason: reason, status: status, isRetriable: false, file: file, line: line)
    }
}
