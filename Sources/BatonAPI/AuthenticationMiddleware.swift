import BatonCore
import BatonStore
import Foundation
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
        guard let secret = try Self.secret(of: request) else {
            throw APIProblem.unauthorized(
                "this operation needs a bearer token (Authorization: Bearer baton_... or an OIDC JWT)")
        }
        let caller: Caller
        switch try await verifier.identify(secret) {
        case .caller(let known): caller = known
        case .refused(let reason): throw APIProblem.unauthorized(reason)
        }
        guard caller.may(needed) else {
            throw APIProblem.forbidden(
                "\(operationID) needs scope \(needed.rawValue); the token has "
                    + (caller.scopes.isEmpty ? "none" : caller.scopes.sorted().map(\.rawValue).joined(separator: ",")))
        }
        return try await RequestCaller.$current.withValue(caller) { try await next(request, body, metadata) }
    }

    /// The bearer token of the request; for a GET without one, the console's session cookie (a
    /// browser's `EventSource` and `fetch` cannot set headers; a cookie never authorizes a change).
    static func secret(of request: HTTPRequest) throws -> String? {
        if let header = request.headerFields[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIProblem.unauthorized("the Authorization header must be 'Bearer <token>'")
            }
            return String(parts[1])
        }
        guard request.method == .get, let cookies = request.headerFields[.cookie] else { return nil }
        for pair in cookies.split(separator: ";") {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == Console.sessionCookie { return String(parts[1]) }
        }
        return nil
    }
}
