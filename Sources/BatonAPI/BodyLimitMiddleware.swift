import Hummingbird

/// Refuses request bodies over a limit with `413` and a problem document, before anything
/// decodes them: by `Content-Length` when it is given, else while the body arrives.
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            return Self.tooLarge(limit: limit, path: request.uri.path)
        }
        var request = request
        if request.method == .post || request.method == .put || request.method == .patch {
            do {
                _ = try await request.collectBody(upTo: limit)
            } catch let error as HTTPError where error.status == .contentTooLarge {
                return Self.tooLarge(limit: limit, path: request.uri.path)
            }
        }
        return try await next(request, context)
    }

    private static func tooLarge(limit: Int, path: String) -> Response {
        let problem = APIProblem.tooLarge(limit: limit)
        return Response(
            status: .contentTooLarge, headers: [.contentType: "application/problem+json", .connection: "close"],
            body: .init(byteBuffer: ByteBuffer(bytes: problem.document(instance: path))))
    }
}
