import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// A Ray stage's declared outputs against what its job reports, through `baton serve` and the
/// real local Ray head: a log longer than the read limit, and an output never reported.
@Suite("Ray stage outputs (real Ray head)", .serialized, .timeLimit(.minutes(8)))
struct RayStageOutputTests {
    /// Prints `noise_mib` MiB of log, then reports output `data` and, unless `skip_report` is
    /// set, output `report`.
    static let program = #"""
        import json, os, pathlib, sys
        params = json.loads(os.environ["BATON_PARAMS"])
        line = "noise " + "x" * 1017 + "\n"
        for _ in range(int(params["noise_mib"]) * 1024):
            sys.stdout.write(line)
        out = pathlib.Path(os.environ["BATON_OUTPUT_URI"][len("file://"):])
        out.mkdir(parents=True, exist_ok=True)
        for name in ["data", "report"]:
            if name == "report" and params["skip_report"]:
                continue
            (out / name).write_text(name)
            print("::baton::output " + json.dumps({"name": name, "uri": "file://" + str(out / name)}))
        print("::baton::metric " + json.dumps({"key": "done", "value": 1, "step": 0}))
        """#

    static func spec(name: String) throws -> String {
        let folder = try EngineFixture.jobFolder(program: program)
        return """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: \(name)}
            params:
              noise_mib: {type: integer, default: 0}
              skip_report: {type: boolean, default: false}
            defaults: {pool: cpu, timeout: 5m, retries: {limit: 0, backoff: 1s}}
            stages:
              - name: produce
                outputs: [data, report]
                ray: \(EngineFixture.rayBody(folder))
            """
    }

    @Test("A job that prints 17 MiB (over the 16 MiB read limit) and then its outputs has them recorded")
    func longLog() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("ray-long-log")
        let runID = try await fixture.submit(try Self.spec(name: "long-log"), ["noise_mib=17"])
        let view = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(240)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        let attempt = try #require(view.stages.first?.attemptHistory.last)
        #expect(attempt.outputs.map(\.name).sorted() == ["data", "report"])
        #expect(attempt.metrics["done"] == 1)
        await serve.stop()
    }

    @Test("A declared output the job never reports fails the attempt (missing_outputs); it never serves the cache")
    func missingOutput() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("ray-missing-output")
        let spec = try Self.spec(name: "missing-output")
        let first = try await fixture.submit(spec, ["skip_report=true"])
        let view = try #require(try await fixture.waitForRuns([first], timeout: .seconds(180)).first)
        #expect(view.state == .failed)
        let attempt = try #require(view.stages.first?.attemptHistory.last)
        #expect(attempt.state == .failed)
        #expect(attempt.rayStatus == "SUCCEEDED")
        #expect(attempt.errorType == "missing_outputs")
        #expect(attempt.error?.contains("'report'") == true, "\(attempt.error ?? "")")
        #expect(attempt.error?.contains("'data'") == false, "\(attempt.error ?? "")")

        // A succeeded attempt that lacks a recorded declared output (recorded before outputs were
        // checked; its row removed here) is no cache source for the same fingerprint.
        let complete = try await fixture.submit(spec)
        let source = try #require(try await fixture.waitForRuns([complete], timeout: .seconds(180)).first)
        #expect(source.state == .succeeded, "\(source.reason ?? "")")
        let sourceAttempt = try #require(source.stages.first?.attemptHistory.last)
        let sourceID = try #require(UUID(uuidString: sourceAttempt.attemptId))
        try await fixture.withStore { store in
            try await store.client.query(
                "DELETE FROM attempt_outputs WHERE attempt_id = \(sourceID) AND name = 'report'",
                logger: TestStack.logger)
        }
        let second = try await fixture.submit(spec)
        let again = try #require(try await fixture.waitForRuns([second], timeout: .seconds(180)).first)
        #expect(again.state == .succeeded, "\(again.reason ?? "")")
        let explained = try await fixture.baton("cache", "explain", second.lowercased, "produce")
        #expect(explained.output.contains("miss"), "\(explained.output)")
        #expect(explained.output.contains("recorded no declared output 'report'"), "\(explained.output)")
        #expect(try await fixture.rayJobs(of: second).count == 1, "ran again rather than reuse the attempt")
        await serve.stop()
    }
}
