import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

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
        _ = try graph()
    }

    /// The graph of `--artifacts` and `--edges`.
    private func graph() throws -> GeneratedLineageGraph {
        do {
            return try GeneratedLineageGraph(artifacts: artifacts, edges: edges)
        } catch {
            throw ValidationError("--" + error.reason)
        }
    }

    func run() async throws {
        options.bootstrapLogging()
        let logger = Logger(label: "baton.bench")
        let graph = try graph()
        let name = try SQLIdentifier("baton_bench_lineage_" + String(UUID().uuidString.lowercased().prefix(8)))
        var components = URLComponents(string: try options.resolvedDatabaseURL())
        components?.path = "/\(name)"
        guard let scratchURL = components?.string else { throw ValidationError("--database-url is not a URL") }
        var scratch = options
        scratch.databaseURL = scratchURL
        try await Runtime.withStore(options, logger: logger) { store in try await store.createDatabase(name) }
        let samples = samples
        let report: [String: JSONValue]
        do {
            report = try await Runtime.withStore(scratch, logger: logger) { store in
                _ = try await store.migrate(from: Runtime.migrationsDirectory(nil))
                return try await Self.measure(graph, samples: samples, store: store)
            }
        } catch {
            if !keep { try? await Self.drop(name, options: options, logger: logger) }
            throw error
        }
        if !keep { try await Self.drop(name, options: options, logger: logger) }
        var output = report
        output["database"] = keep ? .string(name.name) : .string("\(name) (dropped)")
        print(try JSONOutput.render(output))
    }

    private static func drop(_ name: SQLIdentifier, options: GlobalOptions, logger: Logger) async throws {
        try await Runtime.withStore(options, logger: logger) { store in try await store.dropDatabase(name) }
    }

    // MARK: - Measurements

    private static func measure(_ graph: GeneratedLineageGraph, samples: Int, store: BatonStore)
        async throws -> [String: JSONValue]
    {
        let clock = ContinuousClock()
        let buildStart = clock.now
        try await store.load(graph)
        let loaded = clock.now
        try await store.analyzeLineageTables()
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
            let shape = try await store.upstreamClosureShape(of: target)
            upstream.append(milliseconds(clock.now - start))
            nodes.append(Double(shape.nodes))
            depths.append(Double(shape.maxDepth))
            let model = graph.output(10, ofRun: Int.random(in: 0..<graph.runs, using: &generator))
            let provenanceStart = clock.now
            let document = try await store.lineage.provenance(of: model)
            provenance.append(milliseconds(clock.now - provenanceStart))
            attempts.append(Double(document?.attempts.count ?? 0))
        }
        // Downstream of datasets, skewed towards the popular ones (the three every run reads included).
        var downstream: [Double] = []
        var downstreamNodes: [Double] = []
        for _ in 0..<min(samples, 100) {
            let dataset = Int64(1 + Int(Double(graph.datasets) * pow(Double.random(in: 0..<1, using: &generator), 3)))
            let start = clock.now
            downstreamNodes.append(Double(try await store.downstreamClosureSize(of: dataset)))
            downstream.append(milliseconds(clock.now - start))
        }
        let recording = try await measureRecording(graph, samples: samples, store: store)
        var sizes: [String: JSONValue] = [:]
        for (name, size) in try await store.lineageTableSizes() {
            var entry: [String: JSONValue] = ["mib": .double((Double(size.bytes) / 1_048_576).rounded())]
            if let rows = size.rows { entry["rows"] = .int(rows) }
            sizes[name] = .object(entry)
        }
        let upstreamP95 = Percentiles.p95(upstream)
        let downstreamP95 = Percentiles.p95(downstream)
        let provenanceP95 = Percentiles.p95(provenance)
        let recordingP95 = max(Percentiles.p95(recording.launch), Percentiles.p95(recording.finish))
        return [
            "graph": .object([
                "artifacts": .int(Int64(graph.artifactCount)), "edges": .int(Int64(graph.edgeCount)),
                "runs": .int(Int64(graph.runs)), "stage_attempts": .int(Int64(graph.runs * 6)),
                "root_datasets": .int(Int64(graph.datasets)), "shards_per_preprocess": .int(Int64(graph.shards)),
                "runs_per_training_chain": .int(Int64(graph.chain)),
                "load_seconds": .double(seconds(loaded - buildStart)),
                "vacuum_analyze_seconds": .double(seconds(built - loaded)),
                "build_seconds": .double(seconds(built - buildStart)),
                "sizes": .object(sizes),
            ]),
            "upstream_closure_ms": Percentiles.summary(upstream),
            "upstream_closure_nodes": Percentiles.summary(nodes),
            "upstream_closure_max_depth": Percentiles.summary(depths),
            "model_provenance_ms": Percentiles.summary(provenance),
            "model_provenance_attempts": Percentiles.summary(attempts),
            "downstream_closure_of_dataset_ms": Percentiles.summary(downstream),
            "downstream_closure_of_dataset_nodes": Percentiles.summary(downstreamNodes),
            "record_stage_lineage_ms": .object([
                "launch_inputs_params": Percentiles.summary(recording.launch),
                "finish_outputs_metrics": Percentiles.summary(recording.finish),
                "both": Percentiles.summary(zip(recording.launch, recording.finish).map(+)),
            ]),
            "targets": .object([
                "upstream_closure_p95_ms": .double(10), "downstream_closure_of_dataset_p95_ms": .double(100),
                "model_provenance_p95_ms": .double(500), "record_stage_lineage_p95_ms_per_transaction": .double(5),
                "met": .bool(
                    upstreamP95 <= 10 && downstreamP95 <= 100 && provenanceP95 <= 500 && recordingP95 < 5),
            ]),
        ]
    }

    /// Times the engine's two lineage writes for one stage attempt, each its own transaction as
    /// the worker and the watcher make them: `recordLaunch` (fingerprint, 3 inputs upserted as
    /// artifacts, 4 params) and `finishAttempt` (2 outputs upserted as artifacts, 10 metric
    /// points, the outcome event).
    private static func measureRecording(
        _ graph: GeneratedLineageGraph, samples: Int, store: BatonStore
    ) async throws -> (launch: [Double], finish: [Double]) {
        let runID = try await store.makeBenchmarkRun()
        let clock = ContinuousClock()
        var timings: (launch: [Double], finish: [Double]) = ([], [])
        for sample in 1...samples {
            let attemptID = try await store.queueBenchmarkAttempt(runID: runID, number: sample)
            guard let claim = try await store.attempts.claimAttempt(attemptID, owner: "bench", lease: .seconds(60))
            else {
                throw ValidationError("could not claim the bench attempt \(attemptID.lowercased)")
            }
            // Two popular datasets and the base model of a chain, as artifacts the graph holds.
            let inputs = [
                try await input("corpus", artifact: 1, store: store),
                try await input("vocab", artifact: 2, store: store),
                try await input("base", artifact: graph.output(10, ofRun: sample % graph.runs), store: store),
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
            guard finished != nil else { throw ValidationError("the bench attempt's lease was lost") }
        }
        return timings
    }

    /// An input of the recorded attempt: an artifact of the generated graph.
    private static func input(_ name: String, artifact id: Int64, store: BatonStore) async throws -> AttemptInput {
        guard let artifact = try await store.lineage.artifact(id: id) else {
            throw ValidationError("the generated graph has no artifact \(id)")
        }
        return AttemptInput(name: name, uri: artifact.uri, md5: artifact.md5, kind: artifact.kind)
    }

    private static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
