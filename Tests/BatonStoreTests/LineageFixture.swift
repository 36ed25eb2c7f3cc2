import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// Builds lineage graphs with plain SQL (runs, stages, attempts, artifacts and edges), as the
/// engine records them, so the lineage API is tested on graphs of exactly the wanted shape.
struct LineageFixture {
    let store: BatonStore

    /// A diamond: dataset D read by stages a and b (outputs X and Y), both read by c (output M).
    struct Diamond {
        var run: UUID
        var dataset: Int64, x: Int64, y: Int64, model: Int64
        var a: UUID, b: UUID, c: UUID
    }

    func diamond() async throws -> Diamond {
        let run = try await self.run(stages: ["a", "b", "c"])
        let dataset = try await self.artifact("file:///data/corpus", md5: "d0d0.dir", kind: "dataset", nfiles: 3)
        let x = try await self.artifact("file:///art/x", md5: "aaaa")
        let y = try await self.artifact("file:///art/y", md5: "bbbb")
        let model = try await self.artifact("file:///art/model", md5: "cccc.dir", kind: "model", nfiles: 2)
        let a = try await self.attempt(run: run, stage: "a", codeDigest: "sha256:a")
        let b = try await self.attempt(run: run, stage: "b", codeDigest: "sha256:b")
        let c = try await self.attempt(run: run, stage: "c", codeDigest: "sha256:c")
        try await reads(a, "corpus", dataset)
        try await writes(a, "x", x)
        try await reads(b, "corpus", dataset)
        try await writes(b, "y", y)
        try await reads(c, "left", x)
        try await reads(c, "right", y)
        try await writes(c, "model", model)
        return Diamond(run: run, dataset: dataset, x: x, y: y, model: model, a: a, b: b, c: c)
    }

    /// A succeeded run with one `ray` stage row per name (its spec runs each stage's name as
    /// the entrypoint `python <stage>.py`).
    func run(_ pipeline: String = "train", stages: [String], createdSecondsAgo: Double = 0) async throws -> UUID {
        let id = UUID()
        let spec = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: \(pipeline)}
            stages:
            \(stages.map { "  - {name: \($0), kind: ray, ray: {entrypoint: python \($0).py}}" }.joined(separator: "\n"))
            """
        try await store.client.query(
            """
            INSERT INTO runs (id, pipeline_name, spec_yaml, state, request_event_id, created_at)
            VALUES (\(id), \(pipeline), \(spec), 'succeeded', \(id.lowercased),
                    now() - make_interval(secs => \(createdSecondsAgo)))
            """)
        for (position, stage) in stages.enumerated() {
            try await store.client.query(
                """
                INSERT INTO stages (run_id, name, position, kind, pool, state, attempts)
                VALUES (\(id), \(stage), \(position), 'ray', 'default', 'succeeded', 1)
                """)
        }
        return id
    }

    /// An ended attempt (with id `id`); GPU-seconds are `gpus` times `raySeconds`.
    @discardableResult
    func attempt(
        run: UUID, stage: String, number: Int = 1, state: String = "succeeded", gpus: Double = 0,
        raySeconds: Double? = nil, codeDigest: String? = nil, cachedFrom: UUID? = nil, id: UUID = UUID()
    ) async throws -> UUID {
        let now = Date()
        let rayStarted = raySeconds.map { now.addingTimeInterval(-$0) }
        let rayEnded = raySeconds.map { _ in now }
        try await store.client.query(
            """
            INSERT INTO stage_attempts (id, run_id, stage, attempt, state, pool, timeout_ms, kind, num_gpus,
                code_digest, cached_from, started_at, finished_at, ray_started_at, ray_ended_at)
            VALUES (\(id), \(run), \(stage), \(number), \(state), 'default', 60000, 'ray', \(gpus), \(codeDigest),
                \(cachedFrom), \(now), \(now), \(rayStarted), \(rayEnded))
            """)
        return id
    }

    func artifact(_ uri: String, md5: String?, kind: String = "file", size: Int64? = nil, nfiles: Int? = nil)
        async throws -> Int64
    {
        let rows = try await store.client.query(
            """
            INSERT INTO artifacts (uri, md5, size, nfiles, kind) VALUES (\(uri), \(md5), \(size), \(nfiles), \(kind))
            RETURNING id
            """)
        for try await id in rows.decode(Int64.self) { return id }
        throw TestPreconditionFailed()
    }

    func reads(_ attempt: UUID, _ name: String, _ artifact: Int64) async throws {
        try await store.client.query(
            "INSERT INTO attempt_inputs (attempt_id, name, artifact_id) VALUES (\(attempt), \(name), \(artifact))")
    }

    func writes(_ attempt: UUID, _ name: String, _ artifact: Int64) async throws {
        try await store.client.query(
            "INSERT INTO attempt_outputs (attempt_id, name, artifact_id) VALUES (\(attempt), \(name), \(artifact))")
    }

    /// A param, its value given as JSON text.
    func param(_ attempt: UUID, _ key: String, json: String) async throws {
        try await store.client.query(
            "INSERT INTO attempt_params (attempt_id, key, value) VALUES (\(attempt), \(key), \(json)::jsonb)")
    }

    func metric(_ attempt: UUID, _ key: String, step: Int64, _ value: Double) async throws {
        try await store.client.query(
            "INSERT INTO attempt_metrics (attempt_id, key, step, value) VALUES (\(attempt), \(key), \(step), \(value))")
    }

    /// `(artifact id, depth)` rows of `lineage_upstream` / `lineage_downstream`, as a dictionary
    /// (an artifact returned twice fails the test).
    func closure(_ direction: LineageDirection, of artifact: Int64, depth: Int = 20, nodes: Int = 10_000)
        async throws -> [Int64: Int]
    {
        let rows =
            direction == .upstream
            ? try await store.client.query(
                "SELECT artifact_id, depth FROM lineage_upstream(\(artifact), \(depth)::int, \(nodes)::int)")
            : try await store.client.query(
                "SELECT artifact_id, depth FROM lineage_downstream(\(artifact), \(depth)::int, \(nodes)::int)")
        var result: [Int64: Int] = [:]
        for try await (id, level) in rows.decode((Int64, Int).self) {
            #expect(result[id] == nil, "artifact \(id) returned twice")
            result[id] = level
        }
        return result
    }
}
