import BatonCore
import Foundation
import PostgresNIO

extension LineageStore {
    // MARK: - Finding artifacts

    /// The newest artifact recorded at `uri` (the same URI rewritten with new content is a new
    /// artifact); `nil` when none is.
    public func artifact(uri: String) async throws -> ArtifactView? {
        let rows = try await client.statement(
            """
            SELECT id, uri, md5, size, nfiles, kind FROM artifacts WHERE uri = \(uri)
            ORDER BY created_at DESC, id DESC LIMIT 1
            """, logger: logger)
        for try await row in rows.decode((Int64, String, String?, Int64?, Int?, String).self) {
            return ArtifactView(id: row.0, uri: row.1, md5: row.2, size: row.3, nfiles: row.4, kind: row.5)
        }
        return nil
    }

    /// The artifact with id `id`; `nil` when there is none.
    public func artifact(id: Int64) async throws -> ArtifactView? {
        let rows = try await client.statement(
            "SELECT id, uri, md5, size, nfiles, kind FROM artifacts WHERE id = \(id)", logger: logger)
        for try await row in rows.decode((Int64, String, String?, Int64?, Int?, String).self) {
            return ArtifactView(id: row.0, uri: row.1, md5: row.2, size: row.3, nfiles: row.4, kind: row.5)
        }
        return nil
    }

    /// A run's final outputs: what its succeeded attempts produced that no attempt of the run read.
    ///
    /// - Throws: `StoreError.notFound` when there is no such run.
    public func finalOutputs(ofRun runID: UUID) async throws -> [ArtifactView] {
        try await requireRun(runID)
        let rows = try await client.statement(
            """
            SELECT a.id, a.uri, a.md5, a.size, a.nfiles, a.kind
            FROM run_final_outputs(\(runID)) f JOIN artifacts a ON a.id = f.artifact_id
            ORDER BY f.stage, f.name
            """, logger: logger)
        var artifacts: [ArtifactView] = []
        for try await row in rows.decode((Int64, String, String?, Int64?, Int?, String).self) {
            artifacts.append(ArtifactView(id: row.0, uri: row.1, md5: row.2, size: row.3, nfiles: row.4, kind: row.5))
        }
        return artifacts
    }

    // MARK: - Closures

    /// The upstream or downstream closure of `roots`: each artifact once, at its least depth from
    /// any root, and the attempts that connect them (`lineage_upstream` / `lineage_downstream`).
    ///
    /// - Parameters:
    ///   - roots: artifact ids to start from; the first 1000 are used.
    ///   - bounds: the depth and node caps, applied per root.
    public func lineage(
        of roots: [Int64], direction: LineageDirection, bounds: LineageBounds = .standard
    ) async throws -> LineageGraph {
        let roots = Array(roots.prefix(1000))
        let upstream = direction == .upstream
        let nodeRows = try await client.statement(
            """
            SELECT DISTINCT ON (c.artifact_id) c.artifact_id, c.depth, a.uri, a.md5, a.size, a.nfiles, a.kind
            FROM unnest(\(roots)::bigint[]) r (id)
            CROSS JOIN LATERAL lineage_closure(r.id, \(upstream), \(bounds.maxDepth)::int, \(bounds.maxNodes)::int) c
            JOIN artifacts a ON a.id = c.artifact_id
            ORDER BY c.artifact_id, c.depth
            """, logger: logger)
        var nodes: [LineageNode] = []
        for try await (id, depth, uri, md5, size, nfiles, kind) in nodeRows.decode(
            (Int64, Int, String, String?, Int64?, Int?, String).self)
        {
            nodes.append(
                LineageNode(
                    artifact: ArtifactView(id: id, uri: uri, md5: md5, size: size, nfiles: nfiles, kind: kind),
                    depth: depth))
        }
        nodes.sort { ($0.depth, $0.artifact.id) < ($1.depth, $1.artifact.id) }
        let steps = try await steps(between: nodes.map(\.artifact.id), upstream: upstream, limit: bounds.maxNodes)
        let reached = Set(nodes.map(\.artifact.id))
        return LineageGraph(
            direction: direction, bounds: bounds, roots: roots.filter(reached.contains), nodes: nodes, steps: steps)
    }

    /// The attempts between the artifacts of a closure. Upstream: every producer of one of them,
    /// with its inputs among them. Downstream: every reader of one of them that produced another
    /// of them or nothing at all (a reader whose outputs fell outside the caps is left out).
    private func steps(between ids: [Int64], upstream: Bool, limit: Int) async throws -> [LineageStep] {
        let rows = try await client.statement(
            """
            WITH closure AS MATERIALIZED (SELECT unnest(\(ids)::bigint[]) AS id),
            steps AS MATERIALIZED (
                SELECT DISTINCT o.attempt_id FROM closure c JOIN attempt_outputs o ON o.artifact_id = c.id
                WHERE \(upstream)
                UNION
                SELECT DISTINCT i.attempt_id FROM closure c JOIN attempt_inputs i ON i.artifact_id = c.id
                WHERE NOT \(upstream) AND (
                    EXISTS (SELECT 1 FROM attempt_outputs o JOIN closure d ON d.id = o.artifact_id
                            WHERE o.attempt_id = i.attempt_id)
                    OR NOT EXISTS (SELECT 1 FROM attempt_outputs o WHERE o.attempt_id = i.attempt_id))
                LIMIT \(limit)
            )
            SELECT a.id, a.run_id, r.pipeline_name, a.stage, a.attempt, a.state, a.cached_from, a.code_digest,
                   coalesce((SELECT array_agg(i.name ORDER BY i.name) FROM attempt_inputs i JOIN closure c
                             ON c.id = i.artifact_id WHERE i.attempt_id = a.id), '{}'),
                   coalesce((SELECT array_agg(i.artifact_id ORDER BY i.name) FROM attempt_inputs i JOIN closure c
                             ON c.id = i.artifact_id WHERE i.attempt_id = a.id), '{}'),
                   coalesce((SELECT array_agg(o.name ORDER BY o.name) FROM attempt_outputs o JOIN closure c
                             ON c.id = o.artifact_id WHERE o.attempt_id = a.id), '{}'),
                   coalesce((SELECT array_agg(o.artifact_id ORDER BY o.name) FROM attempt_outputs o JOIN closure c
                             ON c.id = o.artifact_id WHERE o.attempt_id = a.id), '{}')
            FROM steps s JOIN stage_attempts a ON a.id = s.attempt_id JOIN runs r ON r.id = a.run_id
            ORDER BY r.created_at, a.run_id, a.stage, a.attempt
            """, logger: logger)
        var steps: [LineageStep] = []
        for try await (
            id, runID, pipeline, stage, attempt, state, cachedFrom, digest, inNames, inIDs, outNames, outIDs
        ) in rows.decode(
            (UUID, UUID, String, String, Int, String, UUID?, String?, [String], [Int64], [String], [Int64]).self)
        {
            steps.append(
                LineageStep(
                    attemptId: id.lowercased, runId: runID.lowercased, pipeline: pipeline, stage: stage,
                    attempt: attempt, state: AttemptState(rawValue: state) ?? .failed,
                    cachedFrom: cachedFrom?.lowercased, codeDigest: digest,
                    inputs: zip(inNames, inIDs).map { LineagePort(name: $0, artifactId: $1) },
                    outputs: zip(outNames, outIDs).map { LineagePort(name: $0, artifactId: $1) }))
        }
        return steps
    }

    // MARK: - Audits

    /// Everything an artifact (a model) was made from (`lineage_provenance`): its root datasets,
    /// every stage attempt upstream with code digest, params, last metrics and GPU-seconds (a
    /// cache hit counted as the attempt it reused); `nil` when there is no such artifact.
    public func provenance(of artifactID: Int64, bounds: LineageBounds = .standard) async throws
        -> ArtifactProvenance?
    {
        let rows = try await client.statement(
            "SELECT lineage_provenance(\(artifactID), \(bounds.maxDepth)::int, \(bounds.maxNodes)::int)::text",
            logger: logger)
        for try await document in rows.decode(String?.self) {
            guard let document else { return nil }
            return try JSONDecoder().decode(ArtifactProvenance.self, from: Data(document.utf8))
        }
        return nil
    }

    /// Every read of an artifact with content hash `md5` by a stage attempt (`runs_reading`), oldest
    /// run first: which runs read a dataset, whatever URI it was read at.
    ///
    /// - Parameter limit: the most reads returned, clamped to 1...100 000.
    public func reads(ofMD5 md5: String, limit: Int = 1000) async throws -> [DatasetRead] {
        let limit = min(max(limit, 1), 100_000)
        let rows = try await client.statement(
            """
            SELECT r.run_id, r.pipeline_name, r.run_state, r.stage, r.attempt_id, r.input_name,
                   a.id, a.uri, a.md5, a.size, a.nfiles, a.kind
            FROM runs_reading(\(md5)) r JOIN artifacts a ON a.id = r.artifact_id
            ORDER BY r.run_created_at, r.run_id, r.stage, r.input_name LIMIT \(limit)
            """, logger: logger)
        var reads: [DatasetRead] = []
        for try await (runID, pipeline, state, stage, attemptID, input, id, uri, hash, size, nfiles, kind)
            in rows.decode(
                (UUID, String, String, String, UUID, String, Int64, String, String?, Int64?, Int?, String).self)
        {
            reads.append(
                DatasetRead(
                    runId: runID.lowercased, pipeline: pipeline, runState: RunState(rawValue: state) ?? .failed,
                    stage: stage, attemptId: attemptID.lowercased, input: input,
                    artifact: ArtifactView(id: id, uri: uri, md5: hash, size: size, nfiles: nfiles, kind: kind)))
        }
        return reads
    }

    /// The succeeded attempt of each stage of a run, in stage order, with every input and output
    /// it recorded (what `baton export dvc` writes).
    ///
    /// - Throws: `StoreError.notFound` when there is no such run.
    public func steps(ofRun runID: UUID) async throws -> [RunStep] {
        try await requireRun(runID)
        let rows = try await client.statement(
            """
            SELECT a.stage, a.id, a.cached_from, e.direction, e.name, f.id, f.uri, f.md5, f.size, f.nfiles, f.kind
            FROM stages s
            JOIN stage_attempts a ON a.run_id = s.run_id AND a.stage = s.name AND a.state = 'succeeded'
            JOIN lineage_edges e ON e.attempt_id = a.id
            JOIN artifacts f ON f.id = e.artifact_id
            WHERE s.run_id = \(runID)
            ORDER BY s.position, a.attempt DESC, e.direction, e.name
            """, logger: logger)
        var steps: [RunStep] = []
        for try await (stage, attemptID, cachedFrom, direction, name, id, uri, md5, size, nfiles, kind) in rows.decode(
            (String, UUID, UUID?, String, String, Int64, String, String?, Int64?, Int?, String).self)
        {
            if steps.last?.stage != stage {
                steps.append(
                    RunStep(
                        stage: stage, attemptId: attemptID.lowercased, cachedFrom: cachedFrom?.lowercased, inputs: [],
                        outputs: []))
            }
            // A stage succeeds once; an older succeeded attempt (it cannot happen today) is ignored.
            guard steps[steps.count - 1].attemptId == attemptID.lowercased else { continue }
            let port = RunStepPort(
                name: name, artifact: ArtifactView(id: id, uri: uri, md5: md5, size: size, nfiles: nfiles, kind: kind))
            if direction == "in" {
                steps[steps.count - 1].inputs.append(port)
            } else {
                steps[steps.count - 1].outputs.append(port)
            }
        }
        return steps
    }

    /// The spec a run was planned from (its stages' commands); `nil` when there is no such run.
    public func specYAML(ofRun runID: UUID) async throws -> String? {
        let rows = try await client.statement("SELECT spec_yaml FROM runs WHERE id = \(runID)", logger: logger)
        for try await yaml in rows.decode(String.self) { return yaml }
        return nil
    }

    // MARK: - Helpers

    private func requireRun(_ runID: UUID) async throws {
        let rows = try await client.statement("SELECT 1 FROM runs WHERE id = \(runID)", logger: logger)
        for try await _ in rows { return }
        throw StoreError.notFound("no run \(runID.lowercased)")
    }
}
