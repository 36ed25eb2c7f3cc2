import BatonCore
import BatonHTTPClient
import BatonRay
import BatonS3
import BatonTestEnvironment
import BatonTestSupport
import Foundation
import NIOHTTP1
import PostgresNIO
import Testing

@testable import BatonStore

/// `s3://` artifacts through `baton serve`, the real Ray head and the stack's SeaweedFS: the job
/// helper (`jobs/baton_job.py`) uploads outputs and downloads inputs with boto3, and the cache
/// checks the objects with HEAD and listings.
@Suite("S3 artifacts end to end (real Ray head and SeaweedFS)", .serialized, .timeLimit(.minutes(8)))
struct S3ArtifactsEndToEndTests {
    /// Stage `a` writes a folder (the param `text`, and a nested file); stage `b` reads it as
    /// its input (downloaded and checked against its md5) and writes one file, in capitals.
    static let program = #"""
        import baton_job
        job = baton_job.Contract.from_env()
        if job.stage == "a":
            out = job.output_path("data")
            (out / "corpus.txt").write_text(job.param("text"), encoding="utf-8")
            (out / "nested").mkdir(exist_ok=True)
            (out / "nested" / "stage.txt").write_text("a\n")
            baton_job.emit_output("data", out)
        else:
            text = (job.input_path("upstream") / "corpus.txt").read_text(encoding="utf-8")
            summary = job.output_path() / "summary.txt"
            summary.write_text(text.upper(), encoding="utf-8")
            baton_job.emit_output("summary", summary)
        """#

    static func spec() throws -> String {
        let helper = try String(
            contentsOf: TestStack.repositoryRoot.appending(path: "jobs/baton_job.py"), encoding: .utf8)
        let folder = try EngineFixture.jobFolder(program: program, files: ["baton_job.py": helper])
        let ray = EngineFixture.rayBody(folder)
        return """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: s3-artifacts}
            params:
              text: {type: string, default: "안녕하세요 baton"}
            defaults: {pool: cpu, timeout: 5m, retries: {limit: 0, backoff: 1s, factor: 2}}
            stages:
              - name: a
                uses: [text]
                outputs: [data]
                ray: \(ray)
              - name: b
                needs: [a]
                uses: []
                inputs: {upstream: stages.a.outputs.data}
                outputs: [summary]
                ray: \(ray)
            """
    }

    /// Each stage's latest output in a run, as recorded.
    func outputs(_ fixture: EngineFixture, run: UUID) async throws -> [String: JobOutput] {
        try await fixture.withStore { store in
            let rows = try await store.client.query(
                """
                SELECT DISTINCT ON (a.stage) a.stage, o.name, f.uri, f.md5, f.size, f.nfiles
                FROM stage_attempts a JOIN attempt_outputs o ON o.attempt_id = a.id JOIN artifacts f ON f.id = o.artifact_id
                WHERE a.run_id = \(run) ORDER BY a.stage, a.attempt DESC
                """, logger: TestStack.logger)
            var result: [String: JobOutput] = [:]
            for try await (stage, name, uri, md5, size, nfiles) in rows.decode(
                (String, String, String, String?, Int64?, Int?).self)
            {
                result[stage] = JobOutput(name: name, uri: uri, md5: md5, size: size, nfiles: nfiles)
            }
            return result
        }
    }

    func runToEnd(_ fixture: EngineFixture, _ spec: String) async throws -> UUID {
        let run = try await fixture.submit(spec)
        let view = try #require(try await fixture.waitForRuns([run], timeout: .seconds(180)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        return run
    }

    func rayStages(_ fixture: EngineFixture, run: UUID) async throws -> [String] {
        try await fixture.rayJobs(of: run).compactMap { $0.metadata?["baton_stage"] }.sorted()
    }

    @Test("Outputs land in S3 as recorded, a second run is served from the cache, a deleted object re-runs its stage")
    func roundTrip() async throws {
        let client = try S3Client.stack()
        let bucket = try S3Client.stackBucket()
        let root = "s3://\(bucket)/tests/\(UUID().uuidString.lowercased())"
        let fixture = try await EngineFixture(environment: ["BATON_ARTIFACT_ROOT": root])
        let serve = try fixture.serve("s3")
        let spec = try Self.spec()
        let presence = S3ArtifactPresence(client: client)

        let first = try await runToEnd(fixture, spec)
        #expect(try await rayStages(fixture, run: first) == ["a", "b"])
        let written = try await outputs(fixture, run: first)
        let data = try #require(written["a"])
        let summary = try #require(written["b"])
        #expect(data.uri.hasPrefix("\(root)/\(first.lowercased)/a/1/"), "\(data.uri)")
        #expect(data.nfiles == 2 && data.md5?.hasSuffix(".dir") == true, "\(data)")
        #expect(summary.uri == "\(root)/\(first.lowercased)/b/1/summary.txt")
        // What the helper recorded is what the store holds: sizes, ETag md5s, the folder's DVC hash.
        #expect(try await presence.problem(with: data) == nil)
        #expect(try await presence.problem(with: summary) == nil)
        let body = try await client.send(.GET, try #require(S3Location(uri: summary.uri))).body
        #expect(String(decoding: body, as: UTF8.self) == "안녕하세요 BATON")

        // The same run again: no Ray job, every output checked in the store and reused.
        let second = try await runToEnd(fixture, spec)
        #expect(try await rayStages(fixture, run: second) == [])
        #expect(try await outputs(fixture, run: second)["b"]?.uri == summary.uri)

        // One object of a's folder is deleted: a runs again, and says why; b, whose input has the
        // same content again, comes from the cache.
        let present = try await fixture.baton("cache", "explain", second.lowercased, "a")
        #expect(present.output.contains("outputs now: all 1 present as recorded"), "\(present.output)")
        try await client.delete(try #require(S3Location(uri: data.uri + "/nested/stage.txt")))
        let lost = try await fixture.baton("cache", "explain", second.lowercased, "a")
        #expect(
            lost.output.contains("outputs now: missing: \(data.uri) (gone: 1 of 2 recorded files under"),
            "\(lost.output)")
        let third = try await runToEnd(fixture, spec)
        #expect(try await rayStages(fixture, run: third) == ["a"])
        let explained = try await fixture.baton("cache", "explain", third.lowercased, "a")
        #expect(explained.output.contains("gone: 1 of 2 recorded files under"), "\(explained.output)")
        #expect(try await presence.problem(with: try #require(try await outputs(fixture, run: third)["a"])) == nil)
        await serve.stop()
    }
}
