import BatonCore
import BatonStore
import HTTPTypes
import Logging
import OpenAPIRuntime

/// Turns every error of an operation into a problem document: an ``APIProblem`` as it is, a
/// request the generated code could not decode as `400`, a database that does not answer as
/// `503`, anything else as `500` (logged, never shown to the caller).
struct ProblemMiddleware: ServerMiddleware {
    let logger: Logger

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        do {
            return try await next(request, body, metadata)
        } catch {
            let problem = problem(for: error, operationID: operationID)
            return problem.response(instance: request.path)
        }
    }

    private func problem(for error: any Error, operationID: String) -> APIProblem {
        var underlying: any Error = error
        if let server = error as? ServerError {
            underlying = server.underlyingError
            if let problem = underlying as? APIProblem { return problem }
            // The generated code refused the request before the handler ran: a wrong shape.
            if server.operationInput == nil || underlying is DecodingError {
                return .badRequest(Self.describe(server))
            }
        }
        if let problem = underlying as? APIProblem { return problem }
        if let store = underlying as? StoreError, store.code == .conflict { return .conflict(store.reason) }
        if DatabaseFailure.classify(underlying) == .transient {
            return .unavailable("the database did not answer; try again")
        }
        logger.error(
            "API operation failed",
            metadata: [LogKeys.operation: "\(operationID)", LogKeys.error: "\(describeError(underlying))"])
        return .internalError
    }

    /// What the generated code said about an undecodable request, without echoing it.
    private static func describe(_ error: ServerError) -> String {
        if error.underlyingError is DecodingError { return describeDecodingError(error.underlyingError) }
        return String("\(error.causeDescription)".prefix(300))
    }
}
