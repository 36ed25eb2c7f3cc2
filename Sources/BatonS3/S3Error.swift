/// Why an S3 call failed, in words an operator can act on.
public enum S3Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// No credentials: neither an access key nor a web identity is configured.
    case noCredentials(String)
    /// The store (or STS) did not answer in time, or the connection failed.
    case unavailable(String)
    /// The store answered with an error status, e.g. `403 AccessDenied`.
    case refused(status: Int, String)
    /// The store's answer could not be read.
    case badResponse(String)

    /// The reason.
    public var description: String {
        switch self {
        case .noCredentials(let reason), .unavailable(let reason), .badResponse(let reason): reason
        case .refused(let status, let reason): "\(reason) (HTTP \(status))"
        }
    }
}
