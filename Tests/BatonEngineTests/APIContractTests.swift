import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Synchronization
import Testing

/// Every operation of `schemas/openapi.yaml`, called for its answers and its problems; every
/// recorded response is then checked against the document by `tests/api/validate_responses.py`
/// (JSON Schema 2020-12 through the stack's Python tools).
@Suite("HTTP API contract", .timeLimit(.minutes(5)))
struct APIContractTests {
    @Test("Every operation's answers and problems validate against openapi.yaml; the path policy refuses by API too")
    func everyOperation() async throws {
        let (fixture, serve, token) = try await APITests.start("api-contract")
        let recorder = APIClient.Recorder()
        let client = APIClient(port: fixture.apiPort, token: token, recorder: recorder)
        let open = client.with(token: nil)
        #expect(try await open.call("getHealth", .GET, "/healthz").status == 200)
        #expect(try await open.call("getOpenAPIDocument", .GET, "/v1/openapi.yaml").status == 200)

        // A run that succeeds, listed, shown, streamed, retried.
        let accepted = try await client.call(
            "createRun", .POST, "/v1/runs", json: APITests.body(labels: ["team": "nlp"]),
            headers: [("Idempotency-Key", "contract")])
        #expect(accepted.status == 202, "\(accepted.text)")
        let runID = try #require(accepted.object["run_id"] as? String)
        #expect(try await open.call("createRun", .POST, "/v1/runs", json: APITests.body()).status == 401)
        let firstID = try #require(UUID(uuidString: runID))
        _ = try await fixture.waitForRuns([firstID])
        let shown = try await client.call("getRun", .GET, "/v1/runs/\(runID)")
        #expect(shown.object["state"] as? String == "succeeded")
        let cli = try await fixture.baton("runs", "show", runID, "--json")
        #expect(
            try JSONSerialization.jsonObject(with: Data(cli.output.utf8)) as? NSDictionary
                == (try JSONSerialization.jsonObject(with: Data(shown.body)) as? NSDictionary),
            "GET /v1/runs/{id} is the `runs show --json` document")
        let listed = try await client.call("listRuns", .GET, "/v1/runs?label=team%3Dnlp&state=succeeded&limit=1")
        #expect((listed.object["runs"] as? [[String: Any]])?.first?["run_id"] as? String == runID)
        #expect(try await client.call("listRuns", .GET, "/v1/runs?cursor=nonsense").status == 400)
        #expect(try await client.call("listRuns", .GET, "/v1/runs?limit=0").status == 400)
        #expect(try await client.call("listRuns", .GET, "/v1/runs?state=dancing").status == 400)
        let longName = String(repeating: "p", count: 201)
        #expect(try await client.call("listRuns", .GET, "/v1/runs?pipeline=\(longName)").status == 400)
        let stream = try await client.events("/v1/runs/\(runID)/events")
        #expect(stream.events.last?.type == "run.succeeded")
        recorder.add(
            APIExchange(
                operation: "streamRunEvents", method: "GET", path: "/v1/runs/\(runID)/events", status: 200,
                contentType: "text/event-stream", body: stream.events.map(\.data).joined(separator: "\n")))
        let retried = try await client.call("retryRun", .POST, "/v1/runs/\(runID)/retry", json: ["from": "train"])
        #expect(retried.status == 202, "\(retried.text)")
        let retryID = try #require((retried.object["run_id"] as? String).flatMap(UUID.init(uuidString:)))
        #expect(
            try await client.call("retryRun", .POST, "/v1/runs/\(runID)/retry", json: ["from": "nowhere"]).status
                == 422)
        let second = try #require(try await fixture.waitForRuns([retryID]).first)
        #expect(second.state == .succeeded)

        // Cancel: a running run, then the same run again (ended: 409), and unknown runs (404).
        let slow = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: slow}
            stages:
              - {name: wait, kind: noop, noop: {sleep: 60s}}
            """
        let slowRun = try #require(
            try await client.call("createRun", .POST, "/v1/runs", json: APITests.body(slow)).object["run_id"] as? String
        )
        try await fixture.waitUntil("the slow stage runs", timeout: .seconds(60)) {
            try await client.call("getRun", .GET, "/v1/runs/\(slowRun)").text.contains("\"running\"")
        }
        let cancelled = try await client.call(
            "cancelRun", .POST, "/v1/runs/\(slowRun)/cancel", json: ["reason": "contract test"])
        #expect(cancelled.status == 202, "\(cancelled.text)")
        let slowID = try #require(UUID(uuidString: slowRun))
        let ended = try #require(try await fixture.waitForRuns([slowID]).first)
        #expect(ended.state == .cancelled)
        #expect(try await client.call("cancelRun", .POST, "/v1/runs/\(slowRun)/cancel").status == 409)
        let unknown = UUID().lowercased
        #expect(try await client.call("getRun", .GET, "/v1/runs/\(unknown)").status == 404)
        #expect(try await client.call("cancelRun", .POST, "/v1/runs/\(unknown)/cancel").status == 404)
        #expect(
            try await client.call("retryRun", .POST, "/v1/runs/\(unknown)/retry", json: ["from": "a"]).status == 404)
        #expect(try await client.call("getRun", .GET, "/v1/runs/not-a-uuid").status == 400)
        let badResume = try await client.call(
            "streamRunEvents", .GET, "/v1/runs/\(runID)/events", headers: [("Last-Event-ID", "-3")])
        #expect(badResume.status == 400, "\(badResume.text)")
        let missingStream = try await client.call("streamRunEvents", .GET, "/v1/runs/\(unknown)/events")
        #expect(missingStream.status == 404)
        // Logs (the answers with a log are checked by the stage log test): a noop stage has none.
        let noLog = try await client.call("getStageLog", .GET, "/v1/runs/\(runID)/stages/train/logs")
        #expect(noLog.status == 404 && noLog.text.contains("noop stage"), "\(noLog.text)")
        let audit = try await fixture.withStore { try await $0.access.auditLog(target: slowRun) }
        #expect(audit.map(\.action) == ["runs.cancel", "runs.submit"])

        // Pipelines: applied over the API (admin), read back, listed; a spec whose name is not
        // the path's, an invalid spec, and the scope.
        let admin = client.with(token: try await APITests.makeToken(fixture, name: "contract-admin", scopes: "admin"))
        let applied = try await admin.call(
            "applyPipeline", .PUT, "/v1/pipelines/api-demo", json: ["spec": APITests.spec])
        #expect(applied.status == 200 && applied.object["created"] as? Bool == true, "\(applied.text)")
        let again = try await admin.call("applyPipeline", .PUT, "/v1/pipelines/api-demo", json: ["spec": APITests.spec])
        #expect(again.object["created"] as? Bool == false && again.object["version"] as? Int == 1)
        #expect(
            try await admin.call("applyPipeline", .PUT, "/v1/pipelines/other", json: ["spec": APITests.spec]).status
                == 422)
        let invalid = try await admin.call("applyPipeline", .PUT, "/v1/pipelines/x", json: ["spec": "stages: 3"])
        #expect(invalid.status == 422, "\(invalid.text)")
        #expect(
            try await client.call("applyPipeline", .PUT, "/v1/pipelines/api-demo", json: ["spec": "x"]).status == 403)
        let stored = try await client.call("getPipeline", .GET, "/v1/pipelines/api-demo")
        #expect(stored.object["spec"] as? String == APITests.spec)
        #expect(try await client.call("getPipeline", .GET, "/v1/pipelines/api-demo?version=2").status == 404)
        let pipelines = try await client.call("listPipelines", .GET, "/v1/pipelines")
        #expect((pipelines.object["pipelines"] as? [[String: Any]])?.map { $0["name"] as? String } == ["api-demo"])
        let byName = try await client.call(
            "createRun", .POST, "/v1/runs", json: ["pipeline": "api-demo", "version": 1])
        #expect(byName.status == 202, "\(byName.text)")
        let applies = try await fixture.withStore { try await $0.access.auditLog(target: "api-demo") }
        #expect(applies.map(\.action) == ["pipelines.apply", "pipelines.apply"])

        // Dead letters: admin only; none in a fresh installation.
        #expect(try await client.call("listDeadLetters", .GET, "/v1/dead-letters").status == 403)
        let letters = try await admin.call("listDeadLetters", .GET, "/v1/dead-letters?limit=10")
        #expect(letters.status == 200 && (letters.object["dead_letters"] as? [Any])?.isEmpty == true, "\(letters.text)")
        #expect(try await admin.call("replayDeadLetter", .POST, "/v1/dead-letters/7/replay").status == 404)
        #expect(try await client.call("replayDeadLetter", .POST, "/v1/dead-letters/7/replay").status == 403)
        #expect(try await admin.call("discardDeadLetter", .POST, "/v1/dead-letters/7/discard").status == 404)

        // Lineage: neither or both of uri and run, an unknown artifact, a run without outputs.
        #expect(try await client.call("getLineage", .GET, "/v1/lineage").status == 400)
        #expect(try await client.call("getLineage", .GET, "/v1/lineage?uri=file:///nowhere").status == 404)
        #expect(try await client.call("getLineage", .GET, "/v1/lineage?run=\(runID)").status == 404)
        #expect(try await client.call("getLineage", .GET, "/v1/lineage?run=\(runID)&depth=101").status == 400)

        // Models: the list, an unknown model, alias moves without the scope, with it on an
        // unknown model, and with neither a version nor a rollback.
        #expect(try await client.call("listModels", .GET, "/v1/models").status == 200)
        #expect(try await client.call("listModels", .GET, "/v1/models?limit=0").status == 400)
        #expect(try await client.call("getModel", .GET, "/v1/models/nope").status == 404)
        let move: [String: Any] = ["version": 1, "reason": "contract"]
        #expect(
            try await client.call("moveModelAlias", .POST, "/v1/models/nope/aliases/champion", json: move).status == 403
        )
        let promoter = client.with(
            token: try await APITests.makeToken(fixture, name: "contract-promoter", scopes: "models:promote"))
        #expect(
            try await promoter.call("moveModelAlias", .POST, "/v1/models/nope/aliases/champion", json: move).status
                == 404)
        let neither = try await promoter.call(
            "moveModelAlias", .POST, "/v1/models/nope/aliases/champion", json: ["reason": "contract"])
        #expect(neither.status == 422, "\(neither.text)")

        // Bad requests: not JSON, unknown fields, both pipeline and spec, an unknown pipeline,
        // a body over the 1 MiB limit.
        let hook = try await client.call(
            "receiveAlertmanagerHook", .POST, "/v1/hooks/alertmanager",
            json: AlertmanagerHookTests.notification([AlertmanagerHookTests.alert("Unmatched", fingerprint: "f")]))
        #expect(hook.object["ignored"] as? Int == 1, "\(hook.text)")
        let badHook = try await client.call(
            "receiveAlertmanagerHook", .POST, "/v1/hooks/alertmanager", json: ["version": "4"])
        #expect(badHook.status == 400)
        let notJSON = try await client.call("createRun", .POST, "/v1/runs", body: Array("{".utf8))
        #expect(notJSON.status == 400, "\(notJSON.text)")
        #expect(try await client.call("createRun", .POST, "/v1/runs", json: ["pipline": "x"]).status == 400)
        let both = try await client.call("createRun", .POST, "/v1/runs", json: ["pipeline": "x", "spec": "y"])
        #expect(both.status == 422, "\(both.text)")
        let unknownPipeline = try await client.call("createRun", .POST, "/v1/runs", json: ["pipeline": "nope"])
        #expect(unknownPipeline.status == 422)
        #expect((unknownPipeline.object["detail"] as? String)?.contains("unknown pipeline 'nope'") == true)
        let huge = try await client.call(
            "createRun", .POST, "/v1/runs", json: ["spec": String(repeating: "x", count: 2 << 20)])
        #expect(huge.status == 413, "\(huge.status)")
        #expect(huge.contentType == "application/problem+json")

        // The path policy, by API: refused before it is accepted, naming the rule (the
        // coordinator's refusal of the same specs from Kafka is the path policy test's).
        let folder = try EngineFixture.jobFolder(program: "print('never runs')")
        let policyCases: [(spec: String, params: [String: Any], rule: String)] = [
            (PathPolicyEndToEndTests.spec(name: "etc", workingDir: "/etc"), [:], "working_dir '/etc' is outside"),
            (PathPolicyEndToEndTests.spec(name: "up", workingDir: "../x"), [:], "working_dir '../x' is outside"),
            (
                PathPolicyEndToEndTests.spec(name: "root", workingDir: folder.path), ["corpus": "/"],
                "corpus: input '/' is outside the jobs root and the data roots"
            ),
        ]
        for (spec, params, rule) in policyCases {
            let answer = try await client.call(
                "createRun", .POST, "/v1/runs", json: APITests.body(spec, params: params))
            #expect(answer.status == 422, "\(answer.text)")
            #expect((answer.object["detail"] as? String)?.contains("path policy: stage train: " + rule) == true)
        }
        #expect(
            try await fixture.count("SELECT count(*)::int FROM runs WHERE pipeline_name IN ('etc', 'up', 'root')") == 0)
        await serve.stop()

        // Every exchange against the document.
        let file = FileManager.default.temporaryDirectory.appending(path: "api-exchanges-\(fixture.prefix).json")
        let encoder = JSONEncoder()
        try encoder.encode(recorder.exchanges.withLock { $0 }).write(to: file)
        let check = try Self.validate(file)
        #expect(check.status == 0, "\(check.output)")
        print(check.output.split(separator: "\n").last ?? "")
    }

    /// Runs the validator with the stack's Python tools.
    ///
    /// - Parameter partial: check only the operations called, not that every one was.
    static func validate(_ file: URL, partial: Bool = false) throws -> (status: Int32, output: String) {
        guard let python = ProcessInfo.processInfo.environment["BATON_PYTHON_TOOLS"] else {
            return (1, "BATON_PYTHON_TOOLS (scripts/stack env) is unset")
        }
        let process = Process()
        process.executableURL = URL(filePath: python)
        process.arguments =
            [
                TestStack.repositoryRoot.appending(path: "tests/api/validate_responses.py").path, file.path,
            ] + (partial ? ["--partial"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
