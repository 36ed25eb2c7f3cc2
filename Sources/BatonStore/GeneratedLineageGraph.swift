import BatonCore
import Logging
import PostgresNIO

/// A generated lineage graph of the shape real training pipelines make, written server-side.
///
/// Each run is a six-stage pipeline: preprocess (reads `shards` raw dataset shards plus three
/// datasets every run reads) -> tokenize -> train (also reads a base model: the previous run's
/// fine-tuned model within a chain of `chain` runs, so lineage reaches back across runs) -> sft
/// (four shared instruction sets) -> evaluate (six shared benchmarks) -> export. Each run writes
/// 16 artifacts; raw datasets are 2 % of the artifacts, picked with a skew so some are read by many
/// runs. Params (4 per attempt) and metrics (2 keys x 5 steps for train, sft and evaluate) are
/// filled as the engine records them.
public struct GeneratedLineageGraph: Sendable {
    /// Root datasets (ids 1...datasets).
    public let datasets: Int
    /// Pipeline runs, six stage attempts each.
    public let runs: Int
    /// Raw shards each preprocess reads.
    public let shards: Int
    /// Runs per chain of continued training.
    public let chain = 12
    /// Artifacts each run writes.
    public static let outputsPerRun = 16
    /// Inputs per run besides the shards: 3 common + 3 + 3 + 5 + 8 + 2.
    static let fixedInputsPerRun = 24

    /// The graph nearest to `artifacts` artifacts and `edges` input plus output edges.
    ///
    /// - Throws: `StoreError` `.invalidConfiguration` when the sizes are out of range or give too
    ///   few or too many edges per run.
    public init(artifacts: Int, edges: Int) throws(StoreError) {
        guard (10_000...20_000_000).contains(artifacts) else {
            throw .invalidConfiguration("artifacts must be between 10000 and 20000000")
        }
        datasets = artifacts / 50
        runs = (artifacts - datasets) / Self.outputsPerRun
        let perRun = Int((Double(edges) / Double(runs)).rounded())
        shards = perRun - Self.outputsPerRun - Self.fixedInputsPerRun
        guard shards >= 1, shards <= 10_000 else {
            throw .invalidConfiguration(
                "edges gives \(perRun) edges per run; use between \(runs * 41) and \(runs * 10_040) edges")
        }
    }

    /// Artifacts in the graph.
    public var artifactCount: Int { datasets + runs * Self.outputsPerRun }
    /// Input plus output edges in the graph.
    public var edgeCount: Int { runs * (Self.outputsPerRun + Self.fixedInputsPerRun + shards) }

    /// The artifact id of output `k` (0...15) of run `run`: 6 = trained model, 10 = fine-tuned
    /// model, 15 = exported package.
    public func output(_ k: Int, ofRun run: Int) -> Int64 { Int64(datasets + run * Self.outputsPerRun + k + 1) }

    /// Writes the graph into an empty, migrated database on `connection`. Foreign keys and
    /// secondary indexes are dropped for the load and made again after it (one pass each, as a
    /// restore does), so the measured schema is the real one; triggers (the MLflow mirror's
    /// queue) are off during the load and on again after it.
    func write(on connection: DatabaseSession, logger: Logger) async throws {
        for setting in ["synchronous_commit = off", "maintenance_work_mem = '512MB'", "work_mem = '64MB'"] {
            try await connection.query(PostgresQuery(unsafeSQL: "SET \(setting)"), logger: logger)
        }
        let tables = [
            "artifacts", "attempt_inputs", "attempt_outputs", "attempt_params", "attempt_metrics",
            "stage_attempts", "stages", "runs",
        ]
        // DDL written by the server itself (format %I, pg_get_*def) from its own catalog.
        let rows = try await connection.query(
            """
            SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
                   format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)), 1
            FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(\(tables))
            UNION ALL
            SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), 0
            FROM pg_index i WHERE i.indrelid::regclass::text = ANY(\(tables))
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 3
            """, logger: logger)
        var restore: [String] = []
        for try await (drop, create, _) in rows.decode((String, String, Int).self) {
            try await connection.query(PostgresQuery(unsafeSQL: drop), logger: logger)
            restore.append(create)
        }
        for table in tables {
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER TABLE \(table) DISABLE TRIGGER USER"), logger: logger)
        }
        for statement in statements() { try await connection.query(statement, logger: logger) }
        for table in tables {
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ENABLE TRIGGER USER"), logger: logger)
        }
        for statement in restore { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        try await connection.statement(
            "SELECT setval(pg_get_serial_sequence('artifacts', 'id'), \(artifactCount))", logger: logger)
    }

    // MARK: - The load

    private func statements() -> [PostgresQuery] {
        let (d, n, r, l) = (datasets, runs, shards, chain)
        return [
            """
            INSERT INTO artifacts (id, uri, md5, size, nfiles, kind) OVERRIDING SYSTEM VALUE
            SELECT d, 's3://datasets/shard-' || d, md5(d::text) || '.dir', 1000000 + d, 100, 'dataset'
            FROM generate_series(1, \(d)) d
            """,
            """
            INSERT INTO runs (id, pipeline_name, pipeline_version, spec_yaml, state, request_event_id, created_at,
                              finished_at)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(r), 12, '0'))::uuid, 'gen-' || (r / \(l)) % 50, 1,
                   'generated', 'succeeded', 'gen-' || r, now() - make_interval(secs => (\(n) - r) * 60),
                   now() - make_interval(secs => (\(n) - r) * 60 - 3000)
            FROM generate_series(0, \(n) - 1) r
            """,
            """
            INSERT INTO stages (run_id, name, position, kind, pool, needs, state, attempts)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(r), 12, '0'))::uuid,
                   (ARRAY['preprocess', 'tokenize', 'train', 'sft', 'evaluate', 'export'])[s + 1], s, 'ray', 'default',
                   (ARRAY['{}', '{preprocess}', '{tokenize}', '{train}', '{sft,preprocess}', '{sft,evaluate}'])[s + 1]::text[],
                   'succeeded', 1
            FROM generate_series(0, \(n) - 1) r, generate_series(0, 5) s
            """,
            """
            INSERT INTO stage_attempts (id, run_id, stage, attempt, state, pool, timeout_ms, kind, num_cpus, num_gpus,
                code_digest, started_at, finished_at, ray_started_at, ray_ended_at, fingerprint)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(r * 8 + s), 12, '0'))::uuid,
                   ('00000000-0000-4000-8000-' || lpad(to_hex(r), 12, '0'))::uuid,
                   (ARRAY['preprocess', 'tokenize', 'train', 'sft', 'evaluate', 'export'])[s + 1], 1, 'succeeded',
                   'default', 3600000, 'ray', 4, (ARRAY[0, 0, 8, 8, 1, 0])[s + 1],
                   'sha256:' || md5('code' || s || (r / 500)), t, t + interval '500 s', t + interval '5 s',
                   t + make_interval(secs => 400 + s * 7), md5(r || '/' || s)
            FROM generate_series(0, \(n) - 1) r, generate_series(0, 5) s,
                 LATERAL (SELECT now() - make_interval(secs => (\(n) - r) * 60 - s * 500) AS t) x
            """,
            """
            INSERT INTO artifacts (id, uri, md5, size, nfiles, kind) OVERRIDING SYSTEM VALUE
            SELECT \(d) + r * 16 + k + 1, 's3://baton/' || r || '/out-' || k, md5(r || '/' || k), 10000 + k,
                   CASE WHEN k IN (6, 10, 15) THEN 20 END,
                   CASE WHEN k IN (6, 10) THEN 'model' WHEN k < 6 THEN 'dataset' ELSE 'file' END
            FROM generate_series(0, \(n) - 1) r, generate_series(0, 15) k
            """,
            """
            INSERT INTO attempt_outputs (attempt_id, name, artifact_id)
            SELECT ('00000000-0000-4000-9000-'
                    || lpad(to_hex(r * 8 + (ARRAY[0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 5])[k + 1]), 12, '0'))::uuid,
                   'out' || k, \(d) + r * 16 + k + 1
            FROM generate_series(0, \(n) - 1) r, generate_series(0, 15) k
            """,
            // Shards: a skewed start (low ids are popular) and a prime stride keep one run's distinct.
            """
            INSERT INTO attempt_inputs (attempt_id, name, artifact_id)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(r * 8), 12, '0'))::uuid, 'shard' || j,
                   1 + ((b + j * 7919) % \(d))
            FROM generate_series(0, \(n) - 1) r,
                 LATERAL (SELECT floor(\(d) * random() ^ 3)::bigint + r * 0 AS b) x, generate_series(1, \(r)) j
            """,
            // k >= 0: output k of the same run; -1: the base model (the previous run's fine-tuned
            // model within a chain, else a pretrained model among the datasets); -2: a dataset
            // shared by the runs of one of 40 families; -3: dataset j + 1, read by every run.
            """
            INSERT INTO attempt_inputs (attempt_id, name, artifact_id)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(r * 8 + e.s), 12, '0'))::uuid, e.name,
                   CASE WHEN e.k >= 0 THEN \(d) + r * 16 + e.k + 1
                        WHEN e.k = -1 THEN CASE WHEN r % \(l) = 0 THEN 4 + r % 16 ELSE \(d) + (r - 1) * 16 + 11 END
                        WHEN e.k = -3 THEN 1 + e.j
                        ELSE 1 + ((r % 40) * 97 + e.j * 101) % \(d) END
            FROM generate_series(0, \(n) - 1) r,
                 (VALUES (0, 'common1', -3, 0), (0, 'common2', -3, 1), (0, 'common3', -3, 2),
                         (1, 'train', 0, 0), (1, 'val', 1, 0), (1, 'vocab', -3, 1),
                         (2, 'train', 4, 0), (2, 'val', 5, 0), (2, 'base', -1, 0),
                         (3, 'model', 6, 0), (3, 'sft1', -2, 3), (3, 'sft2', -2, 4), (3, 'sft3', -2, 5),
                         (3, 'sft4', -2, 6), (4, 'model', 10, 0), (4, 'test', 2, 0), (4, 'bench1', -2, 7),
                         (4, 'bench2', -2, 8), (4, 'bench3', -2, 9), (4, 'bench4', -2, 10), (4, 'bench5', -2, 11),
                         (4, 'bench6', -2, 12), (5, 'model', 10, 0), (5, 'report', 13, 0)) e (s, name, k, j)
            """,
            """
            INSERT INTO attempt_params (attempt_id, key, value)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(r * 8 + s), 12, '0'))::uuid, p.key,
                   CASE p.key WHEN 'learning_rate' THEN to_jsonb(0.0001 * (1 + r % 7))
                              WHEN 'epochs' THEN to_jsonb(1 + r % 5) WHEN 'seed' THEN to_jsonb(r)
                              ELSE to_jsonb('tiny'::text) END
            FROM generate_series(0, \(n) - 1) r, generate_series(0, 5) s,
                 (VALUES ('learning_rate'), ('epochs'), ('seed'), ('profile')) p (key)
            """,
            """
            INSERT INTO attempt_metrics (attempt_id, key, step, value, recorded_at)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(r * 8 + s), 12, '0'))::uuid, m.key, st,
                   1.0 / (1 + st) + (r % 10) / 100.0, now() - make_interval(secs => (\(n) - r) * 60)
            FROM generate_series(0, \(n) - 1) r, (VALUES (2), (3), (4)) s (s), (VALUES ('loss'), ('accuracy')) m (key),
                 generate_series(0, 4) st
            """,
        ]
    }
}
