import BatonCore
import BatonRay
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The content-addressed cache through `baton serve` and the real local Ray head.
@Suite("Cache, retry and lineage of Ray runs (real Ray head)", .serialized, .timeLimit(.minutes(15)))
struct StageCacheTests {
    /// Writes its inputs, its stage name and the params it sees to output `data`, so a param a
    /// stage uses changes its output, and so the inputs of the stages after it.
    static let program = #"""
        import hashlib, json, os, pathlib
        params = json.loads(os.environ["BATON_PARAMS"])
        inputs = json.loads(os.environ["BATON_INPUTS"])
        text = "".join(pathlib.Path(v["uri"][len("file://"):]).read_text() for _, v in sorted(inputs.items()))
        text += os.environ["BATON_STAGE"] + " " + json.dumps(params, sort_keys=True) + "\n"
        out = pathlib.Path(os.environ["BATON_OUTPUT_URI"][len("file://"):])
        out.mkdir(parents=True, exist_ok=True)
        (out / "data.txt").write_text(text)
        digest = hashlib.md5(text.encode()).hexdigest()
        print("::baton::output " + json.dumps({"name": "data", "uri": "file://" + str(out / "data.txt"), "md5": digest, "size": len(text)}))
        print("::baton::metric " + json.dumps({"key": "lines", "value": text.count("\n"), "step": 0}))
        """#

    /// a -> b -> c, where only b uses the param `scale`, and a reads the dataset `corpus` names.
    static func spec() throws -> String {
        let folder = try EngineFixture.jobFolder(program: program, files: ["corpus.txt": corpus])
        let ray = EngineFixture.rayBody(folder)
        return """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: cached}
            params:
              scale: {type: integer, default: 1}
              corpus: {type: string, default: "file://\(folder.path)/corpus.txt"}
            defaults: {pool: cpu, timeout: 5m, retries: {limit: 0, backoff: 1s, factor: 2}}
            stages:
              - name: a
                uses: []
                inputs: {corpus: params.corpus}
                outputs: [data]
                ray: \(ray)
              - name: b
                needs: [a]
                uses: [scale]
                inputs: {upstream: stages.a.outputs.data}
                outputs: [data]
                ray: \(ray)
              - name: c
                needs: [b]
                uses: []
                inputs: {upstream: stages.b.outputs.data}
                outputs: [data]
                ray: \(ray)
            """
    }

    static let corpus = "안녕하세요\n"

    struct AttemptRow: Hashable {
        var id: UUID
        var cachedFrom: UUID?
        var output: String
    }

    /// Each stage's latest attempt in a run, with the attempt it reused and its output's URI.
    func attempts(_ fixture: EngineFixture, run: UUID) async throws -> [String: AttemptRow] {
        try await fixture.withStore { store in
            let rows = try await store.client.query(
                """
                SELECT DISTINCT ON (a.stage) a.stage, a.id, a.cached_from, f.uri
                FROM stage_attempts a JOIN attempt_outputs o ON o.attempt_id = a.id JOIN artifacts f ON f.id = o.artifact_id
                WHERE a.run_id = \(run) ORDER BY a.stage, a.attempt DESC
                """, logger: TestStack.logger)
            var result: [String: AttemptRow] = [:]
            for try await (stage, id, cachedFrom, uri) in rows.decode((String, UUID, UUID?, String).self) {
                result[stage] = AttemptRow(id: id, cachedFrom: cachedFrom, output: uri)
            }
            return result
        }
    }

    /// The stages Ray ran a job for in a run, sorted.
    func rayStages(_ fixture: EngineFixture, run: UUID) async throws -> [String] {
        try await fixture.rayJobs(of: run).compactMap { $0.metadata?["baton_stage"] }.sorted()
    }

    func runToEnd(_ fixture: EngineFixture, _ spec: String, _ params: [String], flags: [String] = []) async throws
        -> UUID
    {
        let run = try await fixture.submit(spec, params, flags: flags)
        // Three Ray jobs: seconds alone, two minutes with the whole suite on two cores.
        let view = try #require(try await fixture.waitForRuns([run], timeout: .seconds(360)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        return run
    }

    @Test("An identical run is served from the cache; a changed param re-runs exactly the stages it affects")
    func cacheHitsAndMisses() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("cache")
        let spec = try Self.spec()

        let first = try await runToEnd(fixture, spec, ["scale=1"])
        #expect(try await rayStages(fixture, run: first) == ["a", "b", "c"])
        let original = try await attempts(fixture, run: first)

        // The same again: no Ray job at all; every attempt points at the original and its output.
        let second = try await runToEnd(fixture, spec, ["scale=1"])
        #expect(try await rayStages(fixture, run: second) == [])
        let reused = try await attempts(fixture, run: second)
        for stage in ["a", "b", "c"] {
            #expect(reused[stage]?.cachedFrom == original[stage]?.id, "stage \(stage)")
            #expect(reused[stage]?.output == original[stage]?.output, "stage \(stage)")
        }
        let shown = try await fixture.baton("runs", "show", second.lowercased)
        #expect(shown.output.contains("metric lines = 3.0"), "\(shown.output)")
        let hit = try await fixture.baton("cache", "explain", second.lowercased, "b")
        #expect(
            hit.output.contains("hit: same fingerprint as attempt \(original["b"]!.id.lowercased)"), "\(hit.output)")

        // scale is used by b only: a is reused, b runs, and c runs because its input changed.
        let third = try await runToEnd(fixture, spec, ["scale=2"])
        #expect(try await rayStages(fixture, run: third) == ["b", "c"])
        let changedParam = try await fixture.baton("cache", "explain", third.lowercased, "b")
        #expect(changedParam.output.contains("param scale: 1 -> 2"), "\(changedParam.output)")
        let changedInput = try await fixture.baton("cache", "explain", third.lowercased, "c")
        #expect(changedInput.output.contains("input upstream: md5 "), "\(changedInput.output)")
        #expect(!changedInput.output.contains("param"), "\(changedInput.output)")

        // An output that is gone is never handed on: a runs again, and b and c, whose
        // ingredients are then the same as in the first run, come from the cache.
        try FileManager.default.removeItem(at: URL(string: original["a"]!.output)!)
        let fourth = try await runToEnd(fixture, spec, ["scale=1"])
        #expect(try await rayStages(fixture, run: fourth) == ["a"])
        let gone = try await fixture.baton("cache", "explain", fourth.lowercased, "a")
        #expect(gone.output.contains("lost outputs"), "\(gone.output)")
        #expect(gone.output.contains("(gone)"), "\(gone.output)")
        await serve.stop()
    }

    @Test("runs retry --from re-runs that stage and everything after it, reusing the rest; --no-cache runs all")
    func retryFromAStage() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("retry")
        let spec = try Self.spec()
        let first = try await runToEnd(fixture, spec, ["scale=1"])
        let original = try await attempts(fixture, run: first)

        let retried = try await fixture.baton("runs", "retry", first.lowercased, "--from", "b", "--wait", "--json")
        #expect(retried.status == 0, "\(retried.output)")
        let retry = try #require(
            try JSONDecoder().decode([String: String].self, from: Data(retried.output.utf8))["run_id"].flatMap(
                UUID.init(uuidString:)))
        // b and c run again although the cache could serve them; a reuses the first run's attempt.
        #expect(try await rayStages(fixture, run: retry) == ["b", "c"])
        let attempts = try await attempts(fixture, run: retry)
        #expect(attempts["a"]?.cachedFrom == original["a"]?.id)
        #expect(attempts["b"]?.cachedFrom == nil)
        #expect(try await fixture.count("SELECT count(*)::int FROM runs WHERE retry_of = \(first)") == 1)
        let explained = try await fixture.baton("cache", "explain", retry.lowercased, "b")
        #expect(explained.output.contains("miss: the cache is off"), "\(explained.output)")

        let fresh = try await runToEnd(fixture, spec, ["scale=1"], flags: ["--no-cache"])
        #expect(try await rayStages(fixture, run: fresh) == ["a", "b", "c"])

        // A stage the pipeline does not have is rejected with the stages it has; nothing runs.
        let bad = try await fixture.baton("runs", "retry", first.lowercased, "--from", "nope", "--wait")
        #expect(bad.status != 0)
        #expect(bad.output.contains("retry_from must name a stage of cached: a, b, c"), "\(bad.output)")
        #expect(try await fixture.count("SELECT count(*)::int FROM runs") == 3)
        await serve.stop()
    }

    @Test("One documented SQL query returns the dataset, params and metrics behind a run's final output")
    func lineageOfARun() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("lineage")
        let run = try await runToEnd(fixture, try Self.spec(), ["scale=3"])
        await serve.stop()

        let rows = try await fixture.withStore { store in
            var binds = PostgresBindings()
            binds.append(run)
            let query = try DocumentedQuery.lineage("final-output-provenance")
            let rows = try await store.client.query(
                PostgresQuery(
                    unsafeSQL: "SELECT q.stage, q.datasets::text, q.stages::text FROM (\(query)) q", binds: binds))
            var result: [(stage: String, datasets: String, stages: String)] = []
            for try await (stage, datasets, stages) in rows.decode((String, String, String).self) {
                result.append((stage, datasets, stages))
            }
            return result
        }
        // The run's final output is c's; behind it: the corpus (by content hash), and a, b and c.
        #expect(rows.map(\.stage) == ["c"])
        let row = try #require(rows.first)
        let datasets = try JSONDecoder().decode([[String: JSONValue]].self, from: Data(row.datasets.utf8))
        #expect(datasets.count == 1)
        #expect(datasets.first?["md5"] == .string(md5Hex(Self.corpus)))
        #expect(datasets.first?["uri"]?.plainText.hasSuffix("/corpus.txt") == true)
        let stages = try JSONDecoder().decode([[String: JSONValue]].self, from: Data(row.stages.utf8))
        let byStage = Dictionary(uniqueKeysWithValues: stages.map { ($0["stage"]?.plainText ?? "", $0) })
        #expect(byStage.keys.sorted() == ["a", "b", "c"])
        #expect(byStage["b"]?["params"] == .object(["scale": .int(3)]))
        #expect(byStage["a"]?["params"] == .object([:]) || byStage["a"]?["params"] == .null)
        #expect(
            byStage["c"]?["metrics"] == .object(["lines": .int(4)])
                || byStage["c"]?["metrics"] == .object(["lines": .double(4)]))
        #expect(byStage["a"]?["code_digest"]?.plainText.hasPrefix("sha256:") == true)
        #expect(byStage["a"]?["code_digest"] == byStage["c"]?["code_digest"])
    }
}
