import BatonCore
import BatonStore
import HTTPTypes
import OpenAPIRuntime

/// Lets a request reach its operation only with a bearer token holding the operation's scope
/// (``OperationScopes``): `401` without a valid token, `403` without the scope. The caller is
/// available to handlers as ``RequestCaller/current``.
struct AuthenticationMiddleware: ServerMiddleware {
    let verifier: TokenVerifier

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        // An operation missing from the table needs admin: a new operation is closed until listed.
        let needed = OperationScopes.table[operationID] ?? .admin
        guard let needed else { return try await next(request, body, metadata) }
        guard let header = request.headerFields[.authorization] else {
            throw APIProblem.unauthorized("this operation needs a bearer token (Authorization: Bearer baton_...)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIProblem.unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        guard let caller = try await verifier.caller(secret: String(parts[1])) else {
            throw APIProblem.unauthorized("the token is unknown, revoked or expired")
        }
        guard caller.may(needed) else {
            throw APIProblem.forbidden(
                "\(operationID) needs scope \(needed.rawValue); the token has "
                    + (caller.scopes.isEmpty ? "none" : caller.scopes.sorted().map(\.rawValue).joined(separator: ",")))
        }
        return try await RequestCaller.$current.withValue(caller) { try await next(request, body, metadata) }
    }
}
