import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

/// The review's path traversal, tried as a user would through `baton submit` (Kafka, then the
/// coordinator): code and inputs outside the jobs and data roots never reach Ray or a hash.
@Suite("Local path policy end to end", .timeLimit(.minutes(4)))
struct PathPolicyEndToEndTests {
    static func spec(name: String, workingDir: String) -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: \(name)}
        params:
          corpus: {type: string, default: corpus.txt}
        defaults: {pool: cpu, timeout: 2m, retries: {limit: 0, backoff: 1s}}
        stages:
          - name: train
            inputs: {corpus: params.corpus}
            ray: {entrypoint: python3 stage.py, runtime_env: {working_dir: "\(workingDir)"}, resources: {cpus: 0.1}}
        """
    }

    @Test("working_dir /etc, working_dir ../x and an input param / are rejected with the rule; nothing runs")
    func rejected() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("paths")
        let folder = try EngineFixture.jobFolder(program: "print('never runs')")
        let cases: [(spec: String, params: [String], rule: String)] = [
            (Self.spec(name: "etc", workingDir: "/etc"), [], "working_dir '/etc' is outside the jobs root"),
            (Self.spec(name: "up", workingDir: "../x"), [], "working_dir '../x' is outside the jobs root"),
            (
                Self.spec(name: "root", workingDir: folder.path), ["--param", "corpus=/"],
                "corpus: input '/' is outside the jobs root and the data roots"
            ),
        ]
        for (spec, params, rule) in cases {
            let result = try await BatonProcess.run(
                ["submit", try fixture.specFile(spec)] + params + ["--wait", "--json"], environment: fixture.environment
            )
            #expect(result.status == 2, "\(result.output)")
            #expect(result.output.contains("\"state\":\"rejected\""), "\(result.output)")
            #expect(result.output.contains("path policy: stage train: \(rule)"), "\(result.output)")
        }
        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 0)
        #expect(try await fixture.count("SELECT count(*)::int FROM outbox WHERE event_type = 'run.rejected'") == 3)
        await serve.stop()
    }

    @Test("A working_dir inside the jobs root that links outside it fails the attempt before Ray sees it")
    func linkOutOfTheRoot() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("links")
        let link = EngineFixture.jobsRoot.appending(path: "escape-\(TestStack.uniqueSuffix())")
        try FileManager.default.createDirectory(at: EngineFixture.jobsRoot, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: URL(filePath: "/etc"))
        defer { try? FileManager.default.removeItem(at: link) }
        let runID = try await fixture.submit(Self.spec(name: "link", workingDir: link.path))
        let run = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(90)).first)
        #expect(run.state == .failed)
        let attempt = try #require(run.stages.first?.attemptHistory.first)
        #expect(attempt.errorType == "path_refused")
        #expect(attempt.error?.contains("links outside the jobs root") == true, "\(attempt.error ?? "-")")
        #expect(try await fixture.rayJobs(of: runID).isEmpty, "no job reached Ray")
        await serve.stop()
    }
}
