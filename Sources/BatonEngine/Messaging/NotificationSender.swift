import BatonCore
import BatonHTTPClient
import Crypto
import Foundation
import Logging
import NIOHTTP1

/// Sends one event to one ``BatonCore/NotificationTarget``: a Slack message, or the CloudEvent as
/// JSON to a webhook (signed with HMAC-SHA256 when the target has a secret). Each call ends within
/// 10 s; a failure is tried again twice (after 1 s and 3 s), so a notification ends within
/// about 35 s, delivered or failed.
struct NotificationSender: Sendable {
    let environment: [String: String]
    let logger: Logger

    /// Tries, and the waits between them.
    static let retryWaits: [Duration] = [.seconds(1), .seconds(3)]

    /// Sends; returns the tries made and the last error (nil once delivered).
    func send(_ event: CloudEvent, pipeline: String, to target: NotificationTarget) async -> (
        attempts: Int, error: String?
    ) {
        guard let url = environment[target.urlVariable], url.hasPrefix("http://") || url.hasPrefix("https://") else {
            return (0, "\(target.urlVariable) is not set to an http(s) URL in baton serve's environment")
        }
        var configuration = JSONHTTPClient.Configuration(
            service: target.kind == .slack ? "Slack" : "Webhook", baseURL: url)
        configuration.maxResponseBytes = 64 << 10
        let client = JSONHTTPClient(configuration: configuration, logger: logger)
        let (body, contentType, headers) = request(event, pipeline: pipeline, target: target)
        var lastError = ""
        for attempt in 1...(Self.retryWaits.count + 1) {
            do throws(HTTPCallFailure) {
                _ = try await client.send(
                    .POST, "", body: body, contentType: contentType, headers: headers, expect: Set(200..<300))
                return (attempt, nil)
            } catch {
                lastError = error.reason
                guard attempt <= Self.retryWaits.count, error.isRetriable else { return (attempt, lastError) }
                try? await Task.sleep(for: Self.retryWaits[attempt - 1])
            }
        }
        return (Self.retryWaits.count + 1, lastError)
    }

    /// The body, its content type and further headers for `target`.
    func request(_ event: CloudEvent, pipeline: String, target: NotificationTarget) -> (
        body: [UInt8], contentType: String, headers: HTTPHeaders
    ) {
        let payload = (try? JSONDecoder().decode(JSONValue.self, from: Data(event.data))) ?? .null
        switch target.kind {
        case .slack:
            let text = Self.summary(event, pipeline: pipeline, payload: payload)
            return (Array((try? JSONEncoder().encode(["text": text])) ?? Data()), "application/json", [:])
        case .webhook:
            let document: JSONValue = .object([
                "specversion": .string("1.0"), "id": .string(event.id), "source": .string(event.source),
                "type": .string(event.type), "subject": event.subject.map(JSONValue.string) ?? .null,
                "time": .string(event.time.formatted(.iso8601)), "datacontenttype": .string("application/json"),
                "data": payload,
            ])
            let body = Array((try? JSONEncoder().encode(document)) ?? Data())
            var headers: HTTPHeaders = [:]
            if let name = target.secretVariable, let secret = environment[name], !secret.isEmpty {
                let timestamp = String(Int(Date().timeIntervalSince1970))
                let signature = HMAC<SHA256>.authenticationCode(
                    for: Array("\(timestamp).".utf8) + body, using: SymmetricKey(data: Array(secret.utf8)))
                headers.add(name: "X-Baton-Timestamp", value: timestamp)
                headers.add(
                    name: "X-Baton-Signature", value: "sha256=" + signature.lowercaseHex)
            }
            return (body, "application/cloudevents+json", headers)
        }
    }

    /// One line a person reads: the event, the pipeline and run, and what the payload says.
    static func summary(_ event: CloudEvent, pipeline: String, payload: JSONValue) -> String {
        let run = event.subject.flatMap { $0.split(separator: "/").dropFirst().first }.map { " run \($0.prefix(8))" }
        var parts: [String] = []
        if case .object(let fields) = payload {
            for key in [
                "stage", "state", "model", "alias", "version", "candidate_version", "to_version", "weight", "phase",
                "failed_clause", "message", "reason",
            ] {
                guard let value = fields[key], value != .null else { continue }
                let text = if case .string(let string) = value { string } else { "\(value)" }
                parts.append("\(key) \(text.prefix(300))")
            }
        }
        let details = parts.isEmpty ? "" : ": " + parts.joined(separator: ", ")
        return "Baton \(event.type): pipeline \(pipeline)\(run ?? "")\(details)"
    }
}
