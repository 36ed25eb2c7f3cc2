import BatonCore
import Foundation
import PostgresNIO

/// The statements of `baton bench lineage`, run on a scratch database that holds only the
/// generated graph and the benchmark's own rows.
extension BatonStore {
    /// The tables the lineage benchmark loads and measures.
    static let lineageTables = [
        "artifacts", "attempt_inputs", "attempt_outputs", "attempt_params", "attempt_metrics", "stage_attempts",
        "stages", "runs",
    ]

    /// Writes `graph` into this empty, migrated database (see ``GeneratedLineageGraph``).
    public func load(_ graph: GeneratedLineageGraph) async throws {
        try await client.withSession { try await graph.write(on: $0, logger: logger) }
    }

    /// `VACUUM ANALYZE` of the lineage tables, so the planner sees the loaded graph.
    public func analyzeLineageTables() async throws {
        for table in Self.lineageTables {
            // VACUUM takes no bind parameters; the names are the constants above.
            try await client.statement(PostgresQuery(unsafeSQL: "VACUUM ANALYZE \(table)"), logger: logger)
        }
    }

    /// The shape of `artifactID`'s upstream closure within depth 20 and 10 000 nodes, read row by
    /// row as a client of `lineage_upstream` would.
    public func upstreamClosureShape(of artifactID: Int64) async throws -> ClosureShape {
        let rows = try await client.statement(
            "SELECT artifact_id, depth FROM lineage_upstream(\(artifactID), 20, 10000)", logger: logger)
        var shape = ClosureShape(nodes: 0, maxDepth: 0)
        for try await (_, depth) in rows.decode((Int64, Int).self) {
            shape.nodes += 1
            shape.maxDepth = max(shape.maxDepth, depth)
        }
        return shape
    }

    /// How many artifacts `lineage_downstream` reaches from `artifactID` within depth 20 and
    /// 10 000 nodes.
    public func downstreamClosureSize(of artifactID: Int64) async throws -> Int {
        let rows = try await client.statement(
            "SELECT count(*)::bigint FROM lineage_downstream(\(artifactID), 20, 10000)", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// A running run with one ready `ray` stage `train` in pool `gpu`, for timing the engine's
    /// lineage writes.
    public func makeBenchmarkRun() async throws -> UUID {
        let runID = UUID()
        try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO runs (id, pipeline_name, spec_yaml, state, request_event_id)
                VALUES (\(runID), 'bench-record', 'generated', 'running', \(runID.lowercased))
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO stages (run_id, name, position, kind, pool, state)
                VALUES (\(runID), 'train', 0, 'ray', 'gpu', 'ready')
                """, logger: logger)
        }
        return runID
    }

    /// Queues attempt `number` of the benchmark run's `train` stage; returns its id.
    public func queueBenchmarkAttempt(runID: UUID, number: Int) async throws -> UUID {
        let attemptID = UUID()
        try await client.statement(
            """
            INSERT INTO stage_attempts (id, run_id, stage, attempt, state, pool, timeout_ms, kind)
            VALUES (\(attemptID), \(runID), 'train', \(number), 'queued', 'gpu', 3600000, 'ray')
            """, logger: logger)
        return attemptID
    }

    /// The sizes of the lineage tables, and of the whole database under the key `database`.
    public func lineageTableSizes() async throws -> [String: TableSize] {
        let rows = try await client.statement(
            """
            SELECT c.relname::text, c.reltuples::bigint, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname::text = ANY(\(Self.lineageTables))
            UNION ALL SELECT 'database', NULL, pg_database_size(current_database())
            """, logger: logger)
        var sizes: [String: TableSize] = [:]
        for try await (name, rowCount, bytes) in rows.decode((String, Int64?, Int64).self) {
            sizes[name] = TableSize(rows: rowCount, bytes: bytes)
        }
        return sizes
    }
}
