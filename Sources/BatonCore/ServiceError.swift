/// The kind of errors a ``ServiceError`` is: one empty enum per service (Ray, Kubernetes,
/// MLflow, Ray Serve, the store), whose constrained extensions name its codes and factories.
public protocol ServiceErrorDomain: Sendable {}

/// A service whose errors are also ``RolloutDriverError``s (the rollout platforms).
public protocol RolloutErrorDomain: ServiceErrorDomain {}

/// A failure of one of the services Baton talks to, or of its store: the class of failure, a
/// sentence that says what happened (with the service's own message when it sent one), the HTTP
/// status when it answered, whether trying again later may succeed, and where it was raised.
///
/// Each service has its own type: `RayError` is `ServiceError<RayErrorDomain>`, so a `catch` or
/// `throws(RayError)` names the service, and its codes (`RayError.Code.notFound`) are its own.
public struct ServiceError<Domain: ServiceErrorDomain>: Error, Sendable, CustomStringConvertible {
    /// A class of failure of this service; compare with the static members.
    public typealias Code = ServiceErrorCode<Domain>

    /// The class of failure.
    public var code: Code
    /// What happened, in a sentence, with the service's own message when it sent one.
    public var reason: String
    /// The HTTP status the service answered with, if it answered over HTTP.
    public var status: Int?
    /// Whether trying again later may succeed (unreachable, overloaded, a transient state).
    public var isRetriable: Bool
    /// The source file that raised the error.
    public var file: String
    /// The source line that raised the error.
    public var line: Int

    /// An error of class `code`.
    public init(
        _ code: Code, _ reason: String, status: Int? = nil, isRetriable: Bool, file: String = #fileID,
        line: Int = #line
    ) {
        (self.code, self.reason, self.status, self.isRetriable) = (code, reason, status, isRetriable)
        (self.file, self.line) = (file, line)
    }

    /// `reason (HTTP status) [code]`.
    public var description: String { reason + (status.map { " (HTTP \($0))" } ?? "") + " [\(code)]" }
}

extension ServiceError: RolloutDriverError where Domain: RolloutErrorDomain {}

/// A class of failure of one service, e.g. `not_found`; the service's own code where it sends
/// one (MLflow's `RESOURCE_ALREADY_EXISTS`).
public struct ServiceErrorCode<Domain: ServiceErrorDomain>: Hashable, Sendable, CustomStringConvertible {
    /// The code as written in messages.
    public let rawValue: String

    /// The code `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}
