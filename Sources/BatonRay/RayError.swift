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

    static func unavailable(_ reason: String, file: String = #fileID, line: Int = #line) -> RayError {
        RayError(code: .unavailable, reason: reason, status: nil, isRetriable: true, file: file, line: line)
    }

    static func rejected(_ reason: String, status: Int, file: String = #fileID, line: Int = #line) -> RayError {
        RayError(
            code: status == 404 ? .notFound : .rejected, reason: reason, status: status,
            isRetriable: status >= 500 || status == 429, file: file, line: line)
    }

    static func badResponse(_ reason: String, status: Int?, file: String = #fileID, line: Int = #line) -> RayError {
        RayError(code: .badResponse, reason: reason, status: status, isRetriable: false, file: file, line: line)
    }
}
