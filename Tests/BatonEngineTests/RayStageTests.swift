import BatonCore
import BatonRay
import BatonStore
import BatonTestSupport
import Crypto
import Foundation
import Glibc
import PostgresNIO
import Testing

/// `ray` stages through `baton serve` and the real local Ray head.
@Suite("Ray stages (real Ray head)", .serialized, .timeLimit(.minutes(8)))
struct RayStageTests {
    /// A stage program: concatenates its inputs, appends its stage name, reports the result as
    /// output `data` and a `lines` metric; fails with exit code 7 when `fail_stage` names it;
    /// sleeps `sleep_seconds` first; reports `traced` 1 when its TRACEPARENT carries the run's trace.
    static let program = #"""
        import hashlib, json, os, pathlib, sys, time
        params = json.loads(os.environ["BATON_PARAMS"])
        inputs = json.loads(os.environ["BATON_INPUTS"])
        stage = os.environ["BATON_STAGE"]
        time.sleep(float(params.get("sleep_seconds", 0)) if params.get("sleep_stage", stage) == stage else 0)
        if params.get("fail_stage") == stage:
            print("stage " + stage + " is broken on purpose", file=sys.stderr)
            sys.exit(7)
        text = "".join(pathlib.Path(v["uri"][len("file://"):]).read_text() for _, v in sorted(inputs.items()))
        text += stage + "\n"
        out = pathlib.Path(os.environ["BATON_OUTPUT_URI"][len("file://"):])
        out.mkdir(parents=True, exist_ok=True)
        (out / "data.txt").write_text(text)
        digest = hashlib.md5(text.encode()).hexdigest()
        print("::baton::output " + json.dumps({"name": "data", "uri": "file://" + str(out / "data.txt"), "md5": digest, "size": len(text)}))
        print("::baton::metric " + json.dumps({"key": "lines", "value": text.count("\n"), "step": 0}))
        trace = os.environ.get("TRACEPARENT", "").split("-")
        traced = len(trace) == 4 and trace[1] == os.environ["BATON_RUN_ID"].replace("-", "")
        print("::baton::metric " + json.dumps({"key": "traced", "value": 1 if traced else 0, "step": 0}))
        """#

    static func spec(name: String, timeout: String = "5m", retries: String = "0") throws -> String {
        // The program travels as the stages' working_dir, packaged and uploaded by Baton.
        let folder = try EngineFixture.jobFolder(program: program)
        let ray = EngineFixture.rayBody(folder)
        return """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: \(name)}
            params:
              fail_stage: {type: string, default: none}
              sleep_seconds: {type: number, default: 0}
              sleep_stage: {type: string, default: b}
            defaults: {pool: cpu, timeout: \(timeout), retries: {limit: \(retries), backoff: 1s, factor: 2}}
            stages:
              - name: a
                outputs: [data]
                ray: \(ray)
              - name: b
                needs: [a]
                inputs: {upstream: stages.a.outputs.data}
                outputs: [data]
                ray: \(ray)
              - name: c
                needs: [b]
                inputs: {upstream: stages.b.outputs.data}
                outputs: [data]
                ray: \(ray)
            """
    }

    @Test("Three Ray jobs pass files and metrics downstream; a failing job is retried, then fails the run")
    func pipeline() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("ray-pipeline")
        let good = try await fixture.submit(try Self.spec(name: "ray-three"))
        let bad = try await fixture.submit(try Self.spec(name: "ray-broken", retries: "1"), ["fail_stage=b"])
        let views = try await fixture.waitForRuns([good, bad], timeout: .seconds(240))
        let byID = Dictionary(uniqueKeysWithValues: views.map { ($0.runId, $0) })

        let run = try #require(byID[good.lowercased])
        #expect(run.state == .succeeded, "\(run.reason ?? "")")
        let last = try #require(run.stages.last?.attemptHistory.last)
        #expect(last.rayStatus == "SUCCEEDED")
        #expect(last.metrics["lines"] == 3)
        #expect(last.metrics["traced"] == 1, "the job's TRACEPARENT carries the run's trace id")
        let output = try #require(last.outputs.first)
        let text = try String(contentsOf: URL(string: output.uri)!, encoding: .utf8)
        #expect(text == "a\nb\nc\n")
        #expect(output.md5 == md5Hex(text))
        let shown = try await fixture.baton("runs", "show", good.lowercased)
        #expect(shown.output.contains("output data"))
        #expect(shown.output.contains("metric lines = 3.0"))
        #expect(try await fixture.rayJobs(of: good).count == 3)

        let broken = try #require(byID[bad.lowercased])
        #expect(broken.state == .failed)
        let attempts = broken.stages[1].attemptHistory
        #expect(attempts.map(\.state) == [.failed, .failed])
        #expect(attempts.allSatisfy { $0.rayStatus == "FAILED" })
        #expect(broken.reason?.contains("driver exit code 7") == true, "\(broken.reason ?? "")")
        let gap = (attempts[1].startedAt ?? .distantPast).timeIntervalSince(attempts[0].finishedAt ?? .distantFuture)
        #expect(gap >= 0.95, "retry backoff \(gap)s")
        #expect(try await fixture.rayJobs(of: bad).count == 3)  // a, and two attempts of b
        await serve.stop()
    }

    @Test("A stage past its timeout has its Ray job stopped")
    func timeout() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("ray-timeout")
        let runID = try await fixture.submit(
            try Self.spec(name: "ray-slow", timeout: "4s"), ["sleep_stage=a", "sleep_seconds=120"])
        let view = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(120)).first)
        #expect(view.state == .failed)
        let attempt = try #require(view.stages.first?.attemptHistory.first)
        #expect(attempt.state == .timedOut)
        #expect(attempt.rayStatus == "STOPPED")
        #expect(try await fixture.rayJobs(of: runID).map(\.status) == [.stopped])
        await serve.stop()
    }

    @Test("kill -9 while a Ray job runs: after a restart the watcher adopts it; one Ray job per attempt")
    func adoption() async throws {
        let fixture = try await EngineFixture()
        let first = try fixture.serve("ray-adopt-1")
        let runID = try await fixture.submit(try Self.spec(name: "ray-adopt"), ["sleep_stage=b", "sleep_seconds=8"])
        try await fixture.waitUntil("stage b's Ray job is submitted") { try await fixture.raySubmitted(stage: "b") }
        await first.kill9()
        let second = try fixture.serve("ray-adopt-2")
        let view = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(180)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        #expect(view.stages.allSatisfy { $0.attempts == 1 })
        #expect(second.log.contains("adopted ray attempt"))
        let jobs = try await fixture.rayJobs(of: runID)
        #expect(jobs.count == 3)
        #expect(Set(jobs.compactMap(\.submissionID)).count == 3)
        await second.stop()
    }

    @Test("A watcher stopped (SIGSTOP) past its lease is fenced out when it resumes; the run stays consistent")
    func stalledWatcher() async throws {
        let fixture = try await EngineFixture()
        let stalled = try fixture.serve("ray-stall-1")
        let runID = try await fixture.submit(try Self.spec(name: "ray-stall"), ["sleep_stage=b", "sleep_seconds=8"])
        try await fixture.waitUntil("stage b's Ray job is submitted") { try await fixture.raySubmitted(stage: "b") }
        kill(stalled.pid, SIGSTOP)
        // Another process's watcher adopts the attempt once the stalled lease (3 s) expires.
        let adopter = try BatonProcess(
            ["serve", "--roles", "watcher"],
            environment: fixture.environment.merging(["BATON_METRICS_ADDRESS": "off"]) { $1 },
            logName: "\(fixture.prefix)-ray-stall-2")
        try await fixture.waitUntil("the watcher adopts the attempt") { adopter.log.contains("adopted ray attempt") }
        // Let the adopter see the job end and record the outcome, then wake the stalled process.
        try await fixture.waitUntil("the adopter records stage b's outcome") {
            try await fixture.count(
                "SELECT count(*)::int FROM stage_attempts WHERE stage = 'b' AND state = 'succeeded'") == 1
        }
        kill(stalled.pid, SIGCONT)
        let view = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(180)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        #expect(view.stages.map(\.attempts) == [1, 1, 1])
        let b = try #require(view.stages[1].attemptHistory.first)
        #expect(b.state == .succeeded)
        #expect(b.worker?.hasSuffix("-\(adopter.pid)") == true, "the adopter owns the attempt: \(b.worker ?? "-")")
        #expect(stalled.log.contains("lease lost; stopping watch"), "the resumed watcher must notice it was fenced out")
        #expect(try await fixture.rayJobs(of: runID).count == 3)
        // The epoch moved on exactly once for the adoption.
        #expect(
            try await fixture.count("SELECT lease_epoch::int FROM stage_attempts WHERE stage = 'b'") == 2)
        await adopter.stop()
        await stalled.stop()
    }

    @Test("Cancelling a run stops its running Ray job")
    func cancellation() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("ray-cancel")
        let runID = try await fixture.submit(try Self.spec(name: "ray-cancel"), ["sleep_stage=a", "sleep_seconds=120"])
        try await fixture.waitUntil("the Ray job runs") {
            try await fixture.rayJobs(of: runID).contains { $0.status == .running }
        }
        #expect(try await fixture.baton("runs", "cancel", runID.lowercased).status == 0)
        let view = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(60)).first)
        #expect(view.state == .cancelled)
        try await fixture.waitUntil("Ray ends the job") {
            try await fixture.rayJobs(of: runID).allSatisfy { $0.status.isTerminal }
        }
        #expect(try await fixture.rayJobs(of: runID).map(\.status) == [.stopped])
        await serve.stop()
    }
}

/// The md5 hex digest, as DVC and the job helper compute it.
func md5Hex(_ text: String) -> String {
    Insecure.MD5.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
