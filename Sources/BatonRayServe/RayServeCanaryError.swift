import BatonCore

/// Why a Ray Serve canary could not run (as opposed to a failed analysis, which aborts it).
public struct RayServeCanaryError: RolloutDriverError, Sendable {
    /// A class of error; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        /// Ray Serve or Prometheus could not be reached or did not answer in time.
        public static let unavailable = Code(name: "unavailable")
        /// Ray Serve refused the applications or could not deploy them.
        public static let deployFailed = Code(name: "deploy_failed")
        /// An answer that is not the documented JSON.
        public static let badResponse = Code(name: "bad_response")
        public var description: String { name }
    }

    public var code: Code
    /// What happened, with the server's own message when it sent one.
    public var reason: String
    /// Whether a later attempt may succeed (the stage's retry policy decides).
    public var isRetriable: Bool
    public var file: String
    public var line: Int

    public var description: String { "\(reason) [\(code)]" }

    public static func unavailable(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .unavailable, reason: reason, isRetriable: true, file: file, line: line)
    }

    public static func deployFailed(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .deployFailed, reason: reason, isRetriable: false, file: file, line: line)
    }

    public static func badResponse(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .badResponse, reason: reason, isRetriable: false, file: file, line: line)
    }
}
