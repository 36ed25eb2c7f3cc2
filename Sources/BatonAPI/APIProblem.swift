import Foundation
import HTTPTypes
import OpenAPIRuntime

/// A problem the API answers with, as an RFC 9457 problem document (`application/problem+json`).
///
/// Handlers and middlewares throw it; ``ProblemMiddleware`` writes it.
struct APIProblem: Error, Sendable, CustomStringConvertible {
    /// The HTTP status.
    var status: HTTPResponse.Status
    /// A short summary of the kind of problem, the same for every occurrence.
    var title: String
    /// What went wrong this time, for a human.
    var detail: String?
    /// Extra headers, such as `WWW-Authenticate` on a 401.
    var headers: HTTPFields = [:]

    var description: String { "\(status.code) \(title)" + (detail.map { ": \($0)" } ?? "") }

    static func badRequest(_ detail: String) -> Self { Self(status: .badRequest, title: "Bad request", detail: detail) }

    static func unprocessable(_ detail: String) -> Self {
        Self(status: .unprocessableContent, title: "The request cannot be run", detail: detail)
    }

    static func notFound(_ detail: String) -> Self { Self(status: .notFound, title: "Not found", detail: detail) }

    static func conflict(_ detail: String) -> Self { Self(status: .conflict, title: "Conflict", detail: detail) }

    static func unauthorized(_ detail: String) -> Self {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer realm=\"baton\""
        return Self(status: .unauthorized, title: "Unauthorized", detail: detail, headers: headers)
    }

    static func forbidden(_ detail: String) -> Self { Self(status: .forbidden, title: "Forbidden", detail: detail) }

    static func tooLarge(limit: Int) -> Self {
        Self(
            status: .contentTooLarge, title: "Request body too large",
            detail: "request bodies are limited to \(limit) bytes")
    }

    static func unavailable(_ detail: String) -> Self {
        Self(status: .serviceUnavailable, title: "Service unavailable", detail: detail)
    }

    static func badGateway(_ detail: String) -> Self { Self(status: .badGateway, title: "Bad gateway", detail: detail) }

    static let internalError = Self(
        status: .internalServerError, title: "Internal error", detail: "the server failed; its log has the details")

    /// The problem document's bytes.
    func document(instance: String?) -> [UInt8] {
        var object: [String: String] = ["type": "about:blank", "title": title]
        if let detail { object["detail"] = String(detail.prefix(2000)) }
        if let instance { object["instance"] = String(instance.prefix(500)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Array((try? encoder.encode(object)) ?? Data("{}".utf8))
        // `status` is a number; splice it in rather than making the dictionary heterogeneous.
        bytes.removeLast()
        bytes += Array(",\"status\":\(status.code)}".utf8)
        return bytes
    }

    /// The response carrying this problem.
    func response(instance: String?) -> (HTTPResponse, HTTPBody) {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        let bytes = document(instance: instance)
        return (HTTPResponse(status: status, headerFields: fields), HTTPBody(bytes))
    }
}
