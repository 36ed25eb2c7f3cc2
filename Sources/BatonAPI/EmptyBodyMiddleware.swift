import HTTPTypes
import OpenAPIRuntime

/// Passes a request without a body (no `Content-Type`, no or zero `Content-Length`) to its
/// operation as having none, so that an optional body may be left out; the transport always
/// hands over a body, empty or not.
struct EmptyBodyMiddleware: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let length = request.headerFields[.contentLength]
        let empty = request.headerFields[.contentType] == nil && (length == nil || length == "0")
        return try await next(request, empty ? nil : body, metadata)
    }
}
