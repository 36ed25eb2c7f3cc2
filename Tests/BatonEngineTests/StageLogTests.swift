import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import NIOHTTP1
import Synchronization
import Testing

/// A stage's job log over the API (`GET /v1/runs/{id}/stages/{stage}/logs`) and the CLI
/// (`baton runs logs`), read from the real Ray head while the job prints.
@Suite("Stage logs", .timeLimit(.minutes(5)))
struct StageLogTests {
    /// Eight lines 0.7 s apart, then `done`.
    static let program = """
        import time
        for i in range(1, 9):
            print(f"line {i} of 8", flush=True)
            time.sleep(0.7)
        print("done", flush=True)
        """

    static func spec(_ folder: URL) -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: logs}
        defaults: {pool: cpu, timeout: 2m, retries: {limit: 0, backoff: 1s}}
        stages:
          - name: train
            ray: \(EngineFixture.rayBody(folder))
          - {name: check, kind: noop, needs: [train]}
        """
    }

    @Test(
        "Followed while the job prints, the log arrives line by line and ends with the attempt; tails, CLI and refusals"
    )
    func followAndTail() async throws {
        let (fixture, serve, token) = try await APITests.start("stage-logs")
        let recorder = APIClient.Recorder()
        let client = APIClient(port: fixture.apiPort, token: token, recorder: recorder)
        let folder = try EngineFixture.jobFolder(program: Self.program)
        let accepted = try await client.call("createRun", .POST, "/v1/runs", json: APITests.body(Self.spec(folder)))
        let runID = try #require(accepted.object["run_id"] as? String, "\(accepted.text)")
        let logs = "/v1/runs/\(runID)/stages/train/logs"

        // Followed from while the attempt is queued or starting: waits for the job, then streams.
        try await fixture.waitUntil("train has an attempt", timeout: .seconds(60)) {
            let run = try await client.call("getRun", .GET, "/v1/runs/\(runID)").object
            let stages = run["stages"] as? [[String: Any]] ?? []
            return (stages.first { $0["name"] as? String == "train" }?["attempts"] as? Int ?? 0) > 0
        }
        let followed = try await client.chunks(logs + "?follow=true&tail_lines=100")
        #expect(followed.status == 200)
        let text = followed.chunks.map(\.text).joined()
        let printed = text.split(separator: "\n").filter { $0.hasPrefix("line ") || $0 == "done" }
        #expect(printed == (1...8).map { "line \($0) of 8" } + ["done"], "\(text)")
        let first = try #require(followed.chunks.first { $0.text.contains("line 1 of 8") })
        let last = try #require(followed.chunks.first { $0.text.contains("done") })
        #expect(last.arrived - first.arrived > .seconds(2), "the log arrives as the job prints it, not at its end")
        print("log follow: \(followed.chunks.count) chunks over \(last.arrived - first.arrived)")
        let id = try #require(UUID(uuidString: runID))
        let run = try #require(try await fixture.waitForRuns([id]).first)
        #expect(run.state == .succeeded)

        // The last lines of the ended attempt; the attempt named in the headers.
        let tail = try await client.call("getStageLog", .GET, logs + "?tail_lines=2")
        #expect(tail.status == 200 && tail.contentType == "text/plain")
        #expect(tail.text == "line 8 of 8\ndone\n", "\(tail.text)")
        #expect(tail.headers.first(name: "X-Baton-Attempt") == "1")
        #expect(tail.headers.first(name: "X-Baton-Attempt-State") == "succeeded")
        let ended = try await client.call("getStageLog", .GET, logs + "?follow=true&tail_lines=1")
        #expect(ended.text == "done\n", "following an ended attempt prints its tail and ends")

        // Refusals: a stage the engine runs, an unknown stage and attempt, no token, bad bounds.
        let noop = try await client.call("getStageLog", .GET, "/v1/runs/\(runID)/stages/check/logs")
        #expect(noop.status == 404 && noop.text.contains("noop stage"), "\(noop.text)")
        let unknown = try await client.call("getStageLog", .GET, "/v1/runs/\(runID)/stages/nowhere/logs")
        #expect(unknown.status == 404 && unknown.text.contains("its stages are train, check"), "\(unknown.text)")
        #expect(try await client.call("getStageLog", .GET, logs + "?attempt=9").status == 404)
        #expect(try await client.call("getStageLog", .GET, logs + "?tail_lines=100001").status == 400)
        #expect(try await client.with(token: nil).call("getStageLog", .GET, logs).status == 401)
        let noRun = try await client.call("getStageLog", .GET, "/v1/runs/\(UUID().lowercased)/stages/train/logs")
        #expect(noRun.status == 404)

        // The CLI: direct (database and Ray) and through the API.
        let direct = try await fixture.baton("runs", "logs", runID, "train", "--tail", "2")
        #expect(direct.status == 0 && direct.output == "line 8 of 8\ndone\n", "\(direct.output)")
        var remote = fixture.environment
        remote["BATON_API_URL"] = "http://127.0.0.1:\(fixture.apiPort)"
        remote["BATON_API_TOKEN"] = token
        let viaAPI = try await BatonProcess.run(["runs", "logs", runID, "train", "-f"], environment: remote)
        #expect(viaAPI.status == 0 && viaAPI.output.hasSuffix("line 8 of 8\ndone\n"), "\(viaAPI.output)")
        let refused = try await BatonProcess.run(["runs", "logs", runID, "check"], environment: remote)
        #expect(refused.status != 0, "a stage without a job log is an error")
        await serve.stop()

        let file = FileManager.default.temporaryDirectory.appending(path: "api-exchanges-\(fixture.prefix).json")
        try JSONEncoder().encode(recorder.exchanges.withLock { $0 }).write(to: file)
        let check = try APIContractTests.validate(file, partial: true)
        #expect(check.status == 0, "\(check.output)")
    }
}
