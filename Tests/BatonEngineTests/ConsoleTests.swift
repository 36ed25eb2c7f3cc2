import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import NIOHTTP1
import Synchronization
import Testing

/// The web console in a real browser (headless Chromium over the DevTools protocol) while a
/// pipeline runs: what it shows equals `baton runs show --json`, state changes appear without a
/// reload, and each page is saved as a screenshot under `.stack/test-output/console/`.
@Suite("Web console in Chromium", .timeLimit(.minutes(10)))
struct ConsoleTests {
    static let output = TestStack.repositoryRoot.appending(path: ".stack/test-output/console")

    static let program = #"""
        import hashlib, json, os, pathlib, time
        out = pathlib.Path(os.environ["BATON_OUTPUT_URI"][len("file://"):])
        out.mkdir(parents=True, exist_ok=True)
        for step in range(8):
            print("::baton::metric " + json.dumps({"key": "loss", "value": 3.0 / (step + 1), "step": step}), flush=True)
            time.sleep(1)
        data = b"weights of a console test\n"
        (out / "model.bin").write_bytes(data)
        print("::baton::output " + json.dumps({"name": "model", "uri": "file://" + str(out / "model.bin"), "md5": hashlib.md5(data).hexdigest(), "size": len(data), "kind": "model"}))
        print("::baton::metric " + json.dumps({"key": "accuracy", "value": 0.9, "step": 0}))
        """#

    @Test("Runs table, a run's DAG mid-flight and at its end, lineage and model pages show what the store holds, live")
    func pages() async throws {
        let (fixture, serve, token) = try await APITests.start("console", scopes: "admin")
        let model = "console-\(TestStack.uniqueSuffix())"
        let folder = try EngineFixture.jobFolder(program: Self.program)
        let spec = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: console-demo}
            defaults: {pool: cpu, timeout: 5m, retries: {limit: 0, backoff: 1s}}
            stages:
              - {name: prepare, kind: noop, noop: {sleep: 1s}}
              - name: train
                needs: [prepare]
                outputs: [model]
                ray: \(EngineFixture.rayBody(folder))
              - {name: evaluate, kind: noop, needs: [train], noop: {sleep: 2s}}
              - name: register
                kind: register
                needs: [evaluate]
                register: {model: \(model), artifact: stages.train.outputs.model}
            """
        let recorder = APIClient.Recorder()
        let api = APIClient(port: fixture.apiPort, token: token, recorder: recorder)
        let anonymous = try await APIClient(port: fixture.apiPort).call("console", .GET, "/ui")
        #expect(anonymous.status == 303 || anonymous.text.contains("Log in"), "the console needs a login")
        let accepted = try await api.call("createRun", .POST, "/v1/runs", json: APITests.body(spec))
        let runID = try #require(accepted.object["run_id"] as? String, "\(accepted.text)")
        let base = "http://127.0.0.1:\(fixture.apiPort)"
        let browser = try await Browser()
        defer { browser.close() }
        let seen: Data = try await browser.withPage { page in
            try await page.send("Page.enable")
            // Log in with the token, as a user would.
            try await page.open("\(base)/ui/login")
            _ = try await page.evaluate(
                "document.querySelector('input[name=token]').value = '\(token)'; document.querySelector('form.login').submit(); true"
            )
            try await page.waitUntil("the runs table", "document.getElementById('runs') !== null")
            try await page.waitUntil(
                "the run in the table", "document.querySelector('tr[data-run=\"\(runID)\"]') !== null")
            try await page.screenshot(to: Self.output.appending(path: "runs.png"))

            // The run page while train runs; the state changes reach it without a reload.
            try await page.open("\(base)/ui/runs/\(runID)")
            _ = try await page.evaluate("window.loadedOnce = true")
            try await page.waitUntil(
                "train running in the DAG",
                "document.getElementById('node-train').getAttribute('class').includes('running')",
                timeout: .seconds(240))
            try await page.screenshot(to: Self.output.appending(path: "run-dag-running.png"))
            // Any end, so that a failed run or a page that stopped updating says so, with what the
            // store holds, instead of timing out on `succeeded`.
            let ended: String?
            do {
                try await page.waitUntil(
                    "the run's end",
                    "['succeeded', 'failed', 'cancelled'].includes(document.getElementById('run-state').textContent)",
                    timeout: .seconds(420))
                ended = try await page.evaluate("document.getElementById('run-state').textContent") as? String
            } catch {
                ended = nil
            }
            if ended != "succeeded" {
                let shown = try await fixture.baton("runs", "show", runID)
                try #require(ended == "succeeded", "the page shows \(ended ?? "no end"); the store:\n\(shown.output)")
            }
            #expect(try await page.evaluate("window.loadedOnce === true") as? Bool == true, "no reload happened")
            try await page.screenshot(to: Self.output.appending(path: "run-dag-succeeded.png"))
            let stages = try await page.evaluate(
                """
                Array.from(document.querySelectorAll('#stages tbody tr')).map(row => ({
                  name: row.dataset.stage, state: row.querySelector('.state').textContent,
                  attempts: Number(row.querySelector('.attempts').textContent),
                  duration: row.querySelector('.duration').textContent,
                  node: document.getElementById('node-' + row.dataset.stage).getAttribute('class') }))
                """)
            // A fresh load shows the details of the ended run: outputs, metrics, the loss chart.
            try await page.open("\(base)/ui/runs/\(runID)")
            let details = try await page.evaluate(
                """
                ({ md5: Array.from(document.querySelectorAll('tr[data-stage=train] .output code')).map(c => c.textContent),
                   charts: document.querySelectorAll('tr[data-stage=train] svg.chart').length })
                """)
            // The job log's tail, read when its panel is opened.
            _ = try await page.evaluate("document.querySelector('tr[data-stage=train] details.log').open = true; true")
            try await page.waitUntil(
                "the job log", "document.querySelector('tr[data-stage=train] details.log').dataset.loaded === 'true'")
            let log = try await page.evaluate(
                "document.querySelector('tr[data-stage=train] details.log pre').textContent")
            try await page.screenshot(to: Self.output.appending(path: "run-details.png"))

            try await page.open("\(base)/ui/lineage?run=\(runID)")
            let lineage = try await page.evaluate(
                """
                ({ artifacts: document.querySelectorAll('#lineage g.artifact').length,
                   attempts: document.querySelectorAll('#lineage g.attempt').length,
                   text: document.querySelector('main').innerText })
                """)
            try await page.screenshot(to: Self.output.appending(path: "lineage.png"))

            try await page.open("\(base)/ui/models/\(model)")
            let modelPage = try await page.evaluate("document.querySelector('#versions').innerText")
            try await page.screenshot(to: Self.output.appending(path: "model.png"))
            try await page.open("\(base)/ui/dead-letters")
            let dead = try await page.evaluate("document.querySelector('h1').textContent")
            return try JSONSerialization.data(withJSONObject: [
                "stages": stages ?? [], "details": details ?? [:], "lineage": lineage ?? [:],
                "model": modelPage ?? "", "dead": dead ?? "", "log": log ?? "",
            ])
        }
        let shown = try #require(try JSONSerialization.jsonObject(with: seen) as? [String: Any])

        // What the page showed equals `baton runs show --json`.
        let cli = try await fixture.baton("runs", "show", runID, "--json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(cli.output.utf8)) as? [String: Any])
        let expected = try #require(document["stages"] as? [[String: Any]])
        let rows = try #require(shown["stages"] as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == expected.map { $0["name"] as? String })
        for (row, stage) in zip(rows, expected) {
            #expect(row["state"] as? String == stage["state"] as? String, "\(row) \(stage)")
            #expect(row["attempts"] as? Int == stage["attempts"] as? Int)
            #expect((row["node"] as? String)?.contains(stage["state"] as? String ?? "?") == true)
            if let seconds = stage["duration_seconds"] as? Double {
                // Shown to a tenth of a second ("2.3 s"); JavaScript and printf round a half apart.
                let shownSeconds = (row["duration"] as? String).flatMap { Double($0.dropLast(2)) }
                #expect(abs((shownSeconds ?? -1) - seconds) <= 0.0501, "\(row) \(stage)")
            }
        }
        let train = try #require(expected.first { $0["name"] as? String == "train" })
        let attempt = try #require((train["attempt_history"] as? [[String: Any]])?.last)
        let md5 = try #require((attempt["outputs"] as? [[String: Any]])?.first?["md5"] as? String)
        let details = try #require(shown["details"] as? [String: Any])
        #expect((details["md5"] as? [String])?.contains(md5) == true, "\(details)")
        #expect(details["charts"] as? Int == 1, "one loss chart")
        let log = try #require(shown["log"] as? String)
        #expect(log.contains("::baton::output") && log.contains(md5), "the log tail shows what the job printed last")
        let lineage = try #require(shown["lineage"] as? [String: Any])
        #expect((lineage["artifacts"] as? Int ?? 0) >= 1 && (lineage["attempts"] as? Int ?? 0) >= 1, "\(lineage)")
        #expect((lineage["text"] as? String)?.contains("model.bin") == true)
        #expect((shown["model"] as? String)?.contains(md5) == true, "\(shown["model"] ?? "")")
        #expect(shown["dead"] as? String == "Dead letters")
        for name in ["runs", "run-dag-running", "run-dag-succeeded", "run-details", "lineage", "model"] {
            let size =
                try FileManager.default.attributesOfItem(
                    atPath: Self.output.appending(path: "\(name).png").path)[.size] as? Int
            #expect((size ?? 0) > 10_000, "\(name).png was saved")
        }
        // Promote through the API: the move names the token, on the model's document and in the audit log.
        let promoted = try await api.call(
            "moveModelAlias", .POST, "/v1/models/\(model)/aliases/champion",
            json: ["version": 1, "reason": "console test"])
        #expect(promoted.status == 200, "\(promoted.text)")
        #expect(promoted.object["move"] as? String == "promote")
        let registry = try await api.call("getModel", .GET, "/v1/models/\(model)")
        #expect((registry.object["aliases"] as? [String: Int])?["champion"] == 1, "\(registry.text)")
        let moves = registry.object["alias_events"] as? [[String: Any]] ?? []
        #expect(
            moves.contains { $0["alias"] as? String == "champion" && $0["actor"] as? String == "token:console-token" })
        // The lineage document by API: the model file, its md5, the train attempt with its metrics.
        let lineageDocument = try await api.call("getLineage", .GET, "/v1/lineage?run=\(runID)")
        #expect(lineageDocument.status == 200, "\(lineageDocument.text)")
        #expect(lineageDocument.text.contains(md5), "\(lineageDocument.text)")
        let provenance = lineageDocument.object["provenance"] as? [String: Any]
        #expect((provenance?["attempts"] as? [[String: Any]])?.first?["stage"] as? String == "train")
        let file = FileManager.default.temporaryDirectory.appending(path: "console-exchanges-\(fixture.prefix).json")
        try JSONEncoder().encode(recorder.exchanges.withLock { $0 }).write(to: file)
        let check = try APIContractTests.validate(file, partial: true)
        #expect(check.status == 0, "\(check.output)")
        let audit = try await fixture.withStore { try await $0.access.auditLog(limit: 10) }
        #expect(audit.contains { $0.action == "models.promote" && $0.target == "\(model)/champion" })
        #expect(audit.contains { $0.action == "console.login" && $0.actor == "token:console-token" })
        await serve.stop()
    }
}
