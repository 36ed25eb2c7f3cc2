import BatonCore
import BatonTestSupport
import Crypto
import Foundation
import PostgresNIO
import Testing

/// `notify:` on a real `baton serve`: Slack messages and signed webhooks, received by the
/// recording stand-in for Slack (`tests/slack_receiver.py`), which takes any JSON POST.
@Suite("Notifications end to end", .serialized, .timeLimit(.minutes(4)))
struct NotificationEndToEndTests {
    static func spec(accuracy: Double) -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: notified}
        notify:
          - name: team
            slack: {urlFrom: BATON_SLACK_WEBHOOK_URL}
            on: [run.succeeded, run.rejected_by_gate, gate.failed]
          - name: audit
            webhook: {urlFrom: BATON_NOTIFY_AUDIT_URL, secretFrom: BATON_NOTIFY_AUDIT_SECRET}
            on: [gate.passed, gate.failed]
          - name: nowhere
            webhook: {urlFrom: BATON_NOTIFY_UNSET_URL}
            on: [run.succeeded, run.rejected_by_gate]
        stages:
          - {name: evaluate, kind: noop, noop: {metrics: {accuracy: \(accuracy)}}}
          - {name: gate, kind: gate, needs: [evaluate], retries: 0, gate: {condition: "stages.evaluate.metrics.accuracy > 0.85"}}
        """
    }

    /// The recording receiver: started on a free port, writing one JSON line per POST to a file.
    final class Receiver: @unchecked Sendable {  // the process handle is used by the owning test only
        let port = EngineFixture.freePort()
        let file = FileManager.default.temporaryDirectory.appending(path: "slack-\(UUID().uuidString).jsonl")
        private let process = Process()

        init() throws {
            process.executableURL = URL(filePath: try TestStack.variable("BATON_PYTHON_TOOLS"))
            process.arguments = [
                TestStack.repositoryRoot.appending(path: "tests/slack_receiver.py").path, "--port", "\(port)",
                "--record", file.path,
            ]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        var url: String { "http://127.0.0.1:\(port)" }

        /// The POSTs recorded so far.
        var messages: [[String: Any]] {
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        func stop() { process.terminate() }
    }

    @Test(
        "A gate's rejection reaches Slack and a signed webhook once each; a passing run's success reaches Slack; an unset target fails without holding the run"
    )
    func notified() async throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        let secret = "audit-secret-\(UUID().uuidString)"
        let fixture = try await EngineFixture(environment: [
            "BATON_SLACK_WEBHOOK_URL": "\(receiver.url)/services/T0/B0/slack",
            "BATON_NOTIFY_AUDIT_URL": "\(receiver.url)/audit", "BATON_NOTIFY_AUDIT_SECRET": secret,
        ])
        let serve = try fixture.serve("notify")
        let rejected = try await fixture.baton("submit", try fixture.specFile(Self.spec(accuracy: 0.5)), "--wait")
        #expect(rejected.status == 3, "\(rejected.output)")
        let passed = try await fixture.baton("submit", try fixture.specFile(Self.spec(accuracy: 0.9)), "--wait")
        #expect(passed.status == 0, "\(passed.output)")
        try await fixture.waitUntil("every notification has ended", timeout: .seconds(60)) {
            try await fixture.count("SELECT count(*)::int FROM notifications WHERE state <> 'sending'") == 7
        }
        let slack = receiver.messages.filter { ($0["path"] as? String) == "/services/T0/B0/slack" }
        let texts = slack.compactMap { ($0["body"] as? [String: Any])?["text"] as? String }
        #expect(texts.count == 3, "\(texts)")
        #expect(
            texts.contains {
                $0.contains("gate.failed") && $0.contains("pipeline notified")
                    && $0.contains("failed_clause stages.evaluate.metrics.accuracy > 0.85: 0.5 > 0.85 is false")
            })
        #expect(texts.contains { $0.contains("run.rejected_by_gate") })
        #expect(texts.contains { $0.contains("run.succeeded") })
        // The webhook: the CloudEvent, signed over "<timestamp>.<body>".
        let audit = receiver.messages.filter { ($0["path"] as? String) == "/audit" }
        #expect(audit.count == 2)
        for message in audit {
            let headers = (message["headers"] as? [String: String] ?? [:]).reduce(into: [String: String]()) {
                $0[$1.key.lowercased()] = $1.value
            }
            let raw = try #require(message["raw"] as? String)
            let timestamp = try #require(headers["x-baton-timestamp"])
            let expected = HMAC<SHA256>.authenticationCode(
                for: Array("\(timestamp).\(raw)".utf8), using: SymmetricKey(data: Array(secret.utf8))
            ).map { String(format: "%02x", $0) }.joined()
            #expect(headers["x-baton-signature"] == "sha256=\(expected)")
            #expect(headers["content-type"] == "application/cloudevents+json")
            let body = message["body"] as? [String: Any]
            #expect(["gate.passed", "gate.failed"].contains(body?["type"] as? String))
            #expect(body?["specversion"] as? String == "1.0")
        }
        // The target without a URL failed fast, and neither run waited for it.
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM notifications WHERE target = 'nowhere' AND state = 'failed' AND error LIKE '%BATON_NOTIFY_UNSET_URL%'"
            )
                == 2)
        // Each event reached each target once: the rows are keyed by event and target.
        #expect(try await fixture.count("SELECT count(*)::int FROM notifications WHERE state = 'delivered'") == 5)
        await serve.stop()
    }
}
