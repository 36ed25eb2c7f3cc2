import ArgumentParser
import BatonCore
import BatonStore
import Foundation
import Logging
import PostgresNIO

/// `baton bench lineage`: the lineage API's latencies on a generated graph in a scratch database.
struct BenchLineageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Generate a lineage graph in a scratch database and print the lineage API's latencies as JSON.",
        discussion: """
            Creates baton_bench_lineage_<random> next to --database-url's database (needs CREATEDB), \
            migrates it, writes the graph server-side, runs VACUUM ANALYZE, then times upstream closures \
            (depth <= 20, <= 10000 nodes) of final artifacts, model provenance documents, and the engine's \
            recording of one stage's lineage (recordLaunch + finishAttempt). Drops the database after \
            unless --keep.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "Artifacts in the generated graph (10000-20000000).") var artifacts = 1_000_000
    @Option(help: "Input plus output edges in the generated graph.") var edges = 5_000_000
    @Option(help: "Samples per measurement (10-100000).") var samples = 500
    @Flag(help: "Keep the scratch database (its name is in the output).") var keep = false

    func validate() throws {
        guard (10...100_000).contains(samples) else { throw ValidationError("--samples must be 10-100000") }
        _ = try BenchLineageGraph(artifacts: artifacts, edges: edges)
    }

    func run() async throws {
        options.bootstrapLogging()
        let logger = Logger(label: "baton.bench")
        let graph = try BenchLineageGraph(artifacts: artifacts, edges: edges)
        let name = "baton_bench_lineage_" + String(UUID().uuidString.lowercased().prefix(8))
        var components = URLComponents(string: try options.resolvedDatabaseURL())
        components?.path = "/\(name)"
        guard let scratchURL = components?.string else { throw ValidationError("--database-url is not a URL") }
        var scratch = options
        scratch.databaseURL = scratchURL
        // The name is made here of [a-z0-9_] only; CREATE DATABASE takes no bind parameters.
        try await Runtime.withStore(options, logger: logger) { store in
            try await store.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        let report: [String: JSONValue]
        do {
            report = try await Runtime.withStore(scratch, logger: logger) { store in
                try await MigrationRunner(directory: Runtime.migrationsDirectory(nil)).migrate(
                    store.client, logger: logger)
                return try await Self.measure(graph, samples: samples, store: store, logger: logger)
            }
        } catch {
            if !keep { try? await Self.drop(name, options: options, logger: logger) }
            throw error
        }
        if !keep { try await Self.drop(name, options: options, logger: logger) }
        var output = report
        output["database"] = keep ? .string(name) : .string("\(name) (dropped)")
        print(try RunPrinter.json(output))
    }

    private static func drop(_ name: String, options: GlobalOptions, logger: Logger) async throws {
        try await Runtime.withStore(options, logger: logger) { store in
            try await store.client.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    // MARK: - Measurements

    private static func measure(_ graph: BenchLineageGraph, samples: Int, store: BatonStore, logger: Logger)
        async throws -> [String: JSONValue]
    {
        let clock = ContinuousClock()
        let buildStart = clock.now
        try await store.client.withConnection { connection in try await graph.write(on: connection, logger: logger) }
        let loaded = clock.now
        for table in [
            "artifacts", "attempt_inputs", "attempt_outputs", "attempt_params", "attempt_metrics",
            "stage_attempts", "stages", "runs",
        ] {
            try await store.client.query(PostgresQuery(unsafeSQL: "VACUUM ANALYZE \(table)"), logger: logger)
        }
        let built = clock.now
        var generator = SystemRandomNumberGenerator()
        // Closures and provenance of final artifacts: exported packages and fine-tuned models.
        var upstream: [Double] = []
        var nodes: [Double] = []
        var depths: [Double] = []
        var provenance: [Double] = []
        var attempts: [Double] = []
        for sample in 0..<samples {
            let run = Int.random(in: 0..<graph.runs, using: &generator)
            let target = graph.output(sample.isMultiple(of: 2) ? 15 : 10, ofRun: run)
            let start = clock.now
            let rows = try await store.client.query(
                "SELECT artifact_id, depth FROM lineage_upstream(\(target), 20, 10000)", logger: logger)
            var count = 0
            var deepest = 0
            for try await (_, depth) in rows.decode((Int64, Int).self) {
                count += 1
                deepest = max(deepest, depth)
            }
            upstream.append(milliseconds(clock.now - start))
            nodes.append(Double(count))
            depths.append(Double(deepest))
            let model = graph.output(10, ofRun: Int.random(in: 0..<graph.runs, using: &generator))
            let provenanceStart = clock.now
            let document = try await store.lineage.provenance(of: model)
            provenance.append(milliseconds(clock.now - provenanceStart))
            attempts.append(Double(document?.attempts.count ?? 0))
        }
        // Downstream of datasets, the popular ones included (informational: no target).
        var downstream: [Double] = []
        var downstreamNodes: [Double] = []
        for _ in 0..<min(samples, 100) {
            let dataset = Int64(1 + Int(Double(graph.datasets) * pow(Double.random(in: 0..<1, using: &generator), 3)))
            let start = clock.now
            let rows = try await store.client.query(
                "SELECT count(*) FROM lineage_downstream(\(dataset), 20, 10000)", logger: logger)
            for try await count in rows.decode(Int.self) { downstreamNodes.append(Double(count)) }
            downstream.append(milliseconds(clock.now - start))
        }
        let recording = try await measureRecording(graph, samples: samples, store: store, logger: logger)
        let sizes = try await tableSizes(store: store, logger: logger)
        let upstreamP95 = percentile95(upstream)
        let provenanceP95 = percentile95(provenance)
        let recordingP95 = max(percentile95(recording.launch), percentile95(recording.finish))
        return [
            "graph": .object([
                "artifacts": .int(Int64(graph.artifactCount)), "edges": .int(Int64(graph.edgeCount)),
                "runs": .int(Int64(graph.runs)), "stage_attempts": .int(Int64(graph.runs * 6)),
                "root_datasets": .int(Int64(graph.datasets)), "shards_per_preprocess": .int(Int64(graph.shards)),
                "runs_per_training_chain": .int(Int64(graph.chain)),
                "load_seconds": .double(seconds(loaded - buildStart)),
                "vacuum_analyze_seconds": .double(seconds(built - loaded)),
                "build_seconds": .double(seconds(built - buildStart)),
                "sizes": sizes,
            ]),
            "upstream_closure_ms": BenchCommand.percentiles(upstream),
            "upstream_closure_nodes": BenchCommand.percentiles(nodes),
            "upstream_closure_max_depth": BenchCommand.percentiles(depths),
            "model_provenance_ms": BenchCommand.percentiles(provenance),
            "model_provenance_attempts": BenchCommand.percentiles(attempts),
            "downstream_closure_of_dataset_ms": BenchCommand.percentiles(downstream),
            "downstream_closure_of_dataset_nodes": BenchCommand.percentiles(downstreamNodes),
            "record_stage_lineage_ms": .object([
                "launch_inputs_params": BenchCommand.percentiles(recording.launch),
                "finish_outputs_metrics": BenchCommand.percentiles(recording.finish),
                "both": BenchCommand.percentiles(zip(recording.launch, recording.finish).map(+)),
            ]),
            "targets": .object([
                "upstream_closure_p95_ms": .double(100), "model_provenance_p95_ms": .double(500),
                "record_stage_lineage_p95_ms_per_transaction": .double(5),
                "met": .bool(upstreamP95 <= 100 && provenanceP95 <= 500 && recordingP95 < 5),
            ]),
        ]
    }

    /// Times the engine's two lineage writes for one stage attempt, each its own transaction as
    /// the worker and the watcher make them: `recordLaunch` (fingerprint, 3 inputs upserted as
    /// artifacts, 4 params) and `finishAttempt` (2 outputs upserted as artifacts, 10 metric
    /// points, the outcome event).
    private static func measureRecording(
        _ graph: BenchLineageGraph, samples: Int, store: BatonStore, logger: Logger
    ) async throws -> (launch: [Double], finish: [Double]) {
        let runID = UUID()
        try await store.client.query(
            """
            INSERT INTO runs (id, pipeline_name, spec_yaml, state, request_event_id)
            VALUES (\(runID), 'bench-record', 'generated', 'running', \(runID.lowercased))
            """, logger: logger)
        try await store.client.query(
            """
            INSERT INTO stages (run_id, name, position, kind, pool, state) VALUES (\(runID), 'train', 0, 'ray', 'gpu', 'ready')
            """, logger: logger)
        let clock = ContinuousClock()
        var timings: (launch: [Double], finish: [Double]) = ([], [])
        for sample in 1...samples {
            let attemptID = UUID()
            try await store.client.query(
                """
                INSERT INTO stage_attempts (id, run_id, stage, attempt, state, pool, timeout_ms, kind)
                VALUES (\(attemptID), \(runID), 'train', \(sample), 'queued', 'gpu', 3600000, 'ray')
                """, logger: logger)
            guard let claim = try await store.attempts.claimAttempt(attemptID, owner: "bench", lease: .seconds(60))
            else {
                throw ValidationError("could not claim the bench attempt \(attemptID.lowercased)")
            }
            // Two popular datasets and the base model of a chain, as artifacts the graph holds.
            let inputs = [
                try await input("corpus", artifact: 1, store: store, logger: logger),
                try await input("vocab", artifact: 2, store: store, logger: logger),
                try await input(
                    "base", artifact: graph.output(10, ofRun: sample % graph.runs), store: store, logger: logger),
            ]
            let params: [String: JSONValue] = [
                "learning_rate": .double(0.0002), "epochs": .int(3), "seed": .int(Int64(sample)),
                "profile": .string("tiny"),
            ]
            let fingerprint = StageFingerprint(
                entrypoint: "python -m baton_jobs.train", code: "sha256:bench", runtimeEnv: [:], params: params,
                inputs: Dictionary(uniqueKeysWithValues: inputs.map { ($0.name, $0.md5 ?? $0.uri) }),
                outputs: ["model", "checkpoint"])
            var records = JobRecords()
            let prefix = "s3://baton/bench/\(attemptID.lowercased)"
            records.outputs = [
                JobOutput(
                    name: "model", uri: "\(prefix)/model", md5: "\(attemptID.lowercased).dir", size: 1 << 30,
                    nfiles: 12, kind: "model"),
                JobOutput(name: "checkpoint", uri: "\(prefix)/checkpoint", md5: "\(sample)", size: 1 << 20),
            ]
            records.metrics = ["loss", "accuracy"].flatMap { key in
                (0..<5).map { JobMetric(key: key, value: 1 / Double($0 + 1), step: Int64($0)) }
            }
            let start = clock.now
            try await store.attempts.recordLaunch(
                claim, AttemptLaunch(fingerprint: fingerprint, inputs: inputs, cpus: 4, gpus: 8), cacheDecision: "miss")
            let launched = clock.now
            let finished = try await store.attempts.finishAttempt(
                claim, state: .succeeded,
                report: AttemptReport(rayStartedAt: Date(), rayEndedAt: Date(), records: records))
            timings.launch.append(milliseconds(launched - start))
            timings.finish.append(milliseconds(clock.now - launched))
            guard finished else { throw ValidationError("the bench attempt's lease was lost") }
        }
        return timings
    }

    /// An input of the recorded attempt: an artifact of the generated graph.
    private static func input(_ name: String, artifact id: Int64, store: BatonStore, logger: Logger) async throws
        -> AttemptInput
    {
        let rows = try await store.client.query("SELECT uri, md5, kind FROM artifacts WHERE id = \(id)", logger: logger)
        for try await (uri, md5, kind) in rows.decode((String, String?, String).self) {
            return AttemptInput(name: name, uri: uri, md5: md5, kind: kind)
        }
        throw ValidationError("the generated graph has no artifact \(id)")
    }

    private static func tableSizes(store: BatonStore, logger: Logger) async throws -> JSONValue {
        let rows = try await store.client.query(
            """
            SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r'
              AND c.relname IN ('artifacts', 'attempt_inputs', 'attempt_outputs', 'attempt_params', 'attempt_metrics',
                                'stage_attempts')
            UNION ALL SELECT 'database', NULL, pg_database_size(current_database())
            """, logger: logger)
        var sizes: [String: JSONValue] = [:]
        for try await (name, estimatedRows, bytes) in rows.decode((String, Int64?, Int64).self) {
            var entry: [String: JSONValue] = ["mib": .double((Double(bytes) / 1_048_576).rounded())]
            if let estimatedRows { entry["rows"] = .int(estimatedRows) }
            sizes[name] = .object(entry)
        }
        return .object(sizes)
    }

    /// The 95th percentile (nearest rank), as `BenchCommand.percentiles` reports it.
    private static func percentile95(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .infinity : sorted[max(0, Int((0.95 * Double(sorted.count)).rounded(.up)) - 1)]
    }

    private static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
