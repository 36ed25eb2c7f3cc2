/// Why a call to an HTTP API did not give the answer asked for, in one shape for every client
/// (Ray, MLflow, Kubernetes, Ray Serve, Prometheus); each client turns it into its own public
/// error type, keeping ``reason`` and ``isRetriable``.
public struct HTTPCallFailure: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// No answer: the server could not be reached, did not answer within the timeout, or the
        /// answer broke off.
        case unavailable
        /// The server answered with a status the caller did not expect; its body is kept.
        case refused
        /// The answer is not the documented JSON, or is larger than the caller reads.
        case badResponse

        /// The `outcome` label of a call that failed this way.
        var label: String {
            switch self {
            case .unavailable: "unavailable"
            case .refused: "refused"
            case .badResponse: "bad_response"
            }
        }
    }

    /// What went wrong.
    public var kind: Kind
    /// A sentence naming the service, the call and the cause, e.g. `Ray at http://… did not
    /// answer GET /api/version: connection refused`.
    public var reason: String
    /// The status the server answered with, when it answered.
    public var status: Int?
    /// The start of the body of a refusal (at most ``JSONHTTPClient/refusalBytes``), for the
    /// client to read the server's own error code and message from.
    public var body: [UInt8]

    /// Whether a later call may succeed: no answer, HTTP 5xx or 429.
    public var isRetriable: Bool {
        switch kind {
        case .unavailable: true
        case .refused: status.map { $0 >= 500 || $0 == 429 } ?? false
        case .badResponse: false
        }
    }

    /// Whether the server said there is no such thing (HTTP 404).
    public var isNotFound: Bool { kind == .refused && status == 404 }

    public var description: String { reason + (status.map { " (HTTP \($0))" } ?? "") }

    /// A failure of `kind`.
    public init(_ kind: Kind, reason: String, status: Int? = nil, body: [UInt8] = []) {
        self.kind = kind
        self.reason = reason
        self.status = status
        self.body = body
    }
}
