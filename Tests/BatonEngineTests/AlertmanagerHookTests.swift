import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Synchronization
import Testing

/// `POST /v1/hooks/alertmanager` on a real `baton serve`, fed what Alertmanager's webhook sends
/// (payload version 4): a firing alert a pipeline's trigger matches starts one run, however
/// often Alertmanager sends it again.
@Suite("Alertmanager hook end to end", .serialized, .timeLimit(.minutes(5)))
struct AlertmanagerHookTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: retrain-on-alert}
        params:
          reason: {type: string, default: manual, enum: [manual, BatonModelAccuracyLow]}
          model: {type: string, default: none}
          train_scale: {type: number, default: 1}
        triggers:
          - name: on-accuracy
            alert: BatonModelAccuracyLow
            labels: {action: retrain}
            params: {train_scale: 2}
            paramsFromLabels: {reason: alertname, model: model}
          - name: on-drift
            alert: BatonModelDriftHigh
            paramsFromLabels: {reason: alertname}
        stages:
          - {name: train, kind: noop}
        """

    /// One alert as Alertmanager sends it.
    static func alert(
        _ name: String, status: String = "firing", fingerprint: String, labels: [String: String] = [:],
        startsAt: String = "2026-12-03T03:00:00.000Z"
    ) -> [String: Any] {
        [
            "status": status, "labels": ["alertname": name, "severity": "warning"].merging(labels) { $1 },
            "annotations": ["summary": "the served model's accuracy dropped"], "startsAt": startsAt,
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint,
        ]
    }

    /// A notification carrying `alerts`.
    static func notification(_ alerts: [[String: Any]]) -> [String: Any] {
        [
            "version": "4", "groupKey": "{}:{alertname=\"x\"}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "baton", "groupLabels": [:], "commonLabels": [:], "commonAnnotations": [:],
            "externalURL": "http://alertmanager:9093", "alerts": alerts,
        ]
    }

    @Test(
        "A firing alert starts one run with its labels as params; a re-sent one answers the same run; resolved and unmatched ones start nothing"
    )
    func oneRunPerAlert() async throws {
        let (fixture, serve, token) = try await APITests.start("hook")
        let applied = try await fixture.baton("pipelines", "apply", try fixture.specFile(Self.spec))
        #expect(applied.status == 0, "\(applied.output)")
        let recorder = APIClient.Recorder()
        let client = APIClient(port: fixture.apiPort, token: token, recorder: recorder)
        let firing = Self.alert(
            "BatonModelAccuracyLow", fingerprint: "a1b2c3d4e5f60718",
            labels: ["action": "retrain", "model": "korean-llm"])
        let unmatched = Self.alert("BatonModelAccuracyLow", fingerprint: "0000000000000001", labels: ["model": "x"])
        let resolved = Self.alert("BatonModelDriftHigh", status: "resolved", fingerprint: "0000000000000002")
        let first = try await client.call(
            "receiveAlertmanagerHook", .POST, "/v1/hooks/alertmanager",
            json: Self.notification([firing, unmatched, resolved]))
        #expect(first.status == 200, "\(first.text)")
        let runs = try #require(first.object["runs"] as? [[String: Any]])
        #expect(runs.count == 1)
        #expect(runs.first?["trigger"] as? String == "on-accuracy")
        #expect(runs.first?["existing"] as? Bool == false)
        #expect(first.object["ignored"] as? Int == 2)
        let runText = runs.first?["run_id"] as? String
        let runID = try #require(runText.flatMap { UUID(uuidString: $0) })
        // Alertmanager sends the group again (repeat_interval, or after a restart).
        for _ in 0..<3 {
            let again = try await client.call(
                "receiveAlertmanagerHook", .POST, "/v1/hooks/alertmanager", json: Self.notification([firing]))
            let rerun = try #require((again.object["runs"] as? [[String: Any]])?.first)
            #expect(rerun["run_id"] as? String == runID.lowercased)
            #expect(rerun["existing"] as? Bool == true)
        }
        let run = try #require(try await fixture.waitForRuns([runID]).first)
        #expect(run.state == .succeeded)
        #expect(run.params["reason"] == .string("BatonModelAccuracyLow"))
        #expect(run.params["model"] == .string("korean-llm"))
        #expect(run.params["train_scale"] == .int(2))
        // The same alert firing again later (a new startsAt) is a new degradation: a new run.
        let later = Self.alert(
            "BatonModelAccuracyLow", fingerprint: "a1b2c3d4e5f60718", labels: ["action": "retrain"],
            startsAt: "2026-12-03T05:00:00.000Z")
        let next = try await client.call(
            "receiveAlertmanagerHook", .POST, "/v1/hooks/alertmanager", json: Self.notification([later]))
        #expect((next.object["runs"] as? [[String: Any]])?.first?["existing"] as? Bool == false)
        #expect(
            try await fixture.count("SELECT count(*)::int FROM run_requests WHERE requested_by = 'token:hook-token'")
                == 2)
        let audited = try await fixture.count(
            "SELECT count(*)::int FROM audit_log WHERE action = 'hooks.alertmanager' AND actor = 'token:hook-token'")
        #expect(audited == 5)
        await serve.stop()
        let file = FileManager.default.temporaryDirectory.appending(path: "hook-exchanges-\(fixture.prefix).json")
        try JSONEncoder().encode(recorder.exchanges.withLock { $0 }).write(to: file)
        let check = try APIContractTests.validate(file, partial: true)
        #expect(check.status == 0, "\(check.output)")
    }

    @Test(
        "A run the pipeline refuses is listed with its reason (200, no retry storm); bad notifications are 400; no token 401, wrong scope 403"
    )
    func refusalsAndBadInput() async throws {
        let (fixture, serve, token) = try await APITests.start("hook-bad")
        let applied = try await fixture.baton("pipelines", "apply", try fixture.specFile(Self.spec))
        #expect(applied.status == 0, "\(applied.output)")
        let client = APIClient(port: fixture.apiPort, token: token)
        // reason takes the alertname, and the enum of `reason` does not allow BatonModelDriftHigh.
        let drift = Self.alert("BatonModelDriftHigh", fingerprint: "d1")
        let refused = try await client.call(
            "receiveAlertmanagerHook", .POST, "/v1/hooks/alertmanager", json: Self.notification([drift]))
        #expect(refused.status == 200, "\(refused.text)")
        let reason = (refused.object["refused"] as? [[String: Any]])?.first?["reason"] as? String
        #expect(reason?.contains("reason") == true, "\(refused.text)")
        #expect((refused.object["runs"] as? [Any])?.isEmpty == true)
        let path = "/v1/hooks/alertmanager"
        #expect(try await client.call("receiveAlertmanagerHook", .POST, path, json: ["version": "4"]).status == 400)
        #expect(try await client.call("receiveAlertmanagerHook", .POST, path, body: Array("{".utf8)).status == 400)
        let tooMany = Self.notification((0...200).map { Self.alert("X", fingerprint: "f\($0)") })
        let many = try await client.call("receiveAlertmanagerHook", .POST, path, json: tooMany)
        #expect(many.status == 400, "\(many.text)")
        let longLabel = Self.alert("X", fingerprint: "f", labels: ["note": String(repeating: "x", count: 2000)])
        #expect(
            try await client.call("receiveAlertmanagerHook", .POST, path, json: Self.notification([longLabel])).status
                == 400)
        #expect(
            try await client.with(token: nil).call(
                "receiveAlertmanagerHook", .POST, path, json: Self.notification([drift])
            ).status == 401)
        let reader = try await APITests.makeToken(fixture, name: "reader", scopes: "runs:read")
        #expect(
            try await client.with(token: reader).call(
                "receiveAlertmanagerHook", .POST, path, json: Self.notification([drift])
            ).status == 403)
        #expect(try await fixture.count("SELECT count(*)::int FROM run_requests") == 0)
        await serve.stop()
    }
}
