import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonEngine
import BatonKafka
import BatonStore
import Foundation
import Logging

/// `baton bench [runs]`: runs through a running `baton serve`, one at a time and then many in
/// flight, and where each phase's time went.
struct BenchRunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Submit runs to a running `baton serve` and print latency figures as JSON.",
        discussion: """
            Two phases, after --warmup runs reported apart: --serial runs one at a time (the \
            per-stage overhead), then --runs with --concurrency in flight (throughput). Each prints \
            makespans, hand-offs (a stage's needs ended -> it started), stage transitions per second \
            and, from the /metrics of every --metrics address, each step of a hand-off (HandoffHop), \
            each consumer's handling, and the serve processes' CPU seconds per 1,000 transitions and \
            memory. Run a release build.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: "The spec file to run.") var pipeline = "examples/korean-llm-noop.yaml"
    @Option(
        help: """
            Runs made one at a time before the timed phases and reported apart, under "warmup" (the \
            first job a fresh Ray cluster accepts waits for Ray to start its first job supervisor); \
            at most 100.
            """)
    var warmup = 0
    @Option(help: "Runs submitted one at a time, each after the last ended (0: skip the phase).") var serial = 20
    @Option(help: "Runs of the in-flight phase (0: skip the phase).") var runs = 200
    @Option(help: "Runs in flight at once: submitted in waves of this many (default: all at once).") var concurrency:
        Int?
    @Option(
        help:
            "The /metrics address (host:port or URL) of each `baton serve`; 'off' for none (env BATON_METRICS_ADDRESS; default 127.0.0.1:9464)."
    )
    var metrics: [String] = []
    @Option(help: "Give up on a phase after this many seconds.") var timeout: Double = 600
    @Flag(
        help: """
            After each phase, wait until the MLflow mirror of the serve (BATON_MLFLOW_URI) has every run \
            of it, and report how fast it caught up.
            """)
    var mlflowMirror = false

    func run() async throws {
        options.bootstrapLogging()
        let logger = Logger(label: "baton.bench")
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8)
        let spec = try PipelineSpecParser.parse(yaml)
        let addresses =
            metrics.isEmpty ? [GlobalOptions.environment["BATON_METRICS_ADDRESS"] ?? "127.0.0.1:9464"] : metrics
        let bench = Bench(
            spec: spec, yaml: yaml, producer: try Runtime.makeProducer(options, logger: logger),
            topic: options.topics().requested, metrics: addresses == ["off"] ? [] : addresses,
            mlflowMirror: mlflowMirror, timeout: .seconds(timeout), logger: logger)
        let (serial, runs, concurrency) = (min(serial, 10_000), min(runs, 10_000), concurrency)
        let warmup = min(warmup, 100)
        let phases = try await Runtime.withStore(options, logger: logger) { store in
            var phases: [String: JSONValue] = [:]
            if warmup > 0 {
                phases["warmup"] = try await bench.phase(runs: warmup, wave: 1, store: store)
            }
            if serial > 0 {
                phases["one_at_a_time"] = try await bench.phase(runs: serial, wave: 1, store: store)
            }
            if runs > 0 {
                phases["in_flight"] = try await bench.phase(runs: runs, wave: max(1, concurrency ?? runs), store: store)
            }
            return phases
        }
        await bench.producer.shutdown()
        var report = phases
        report["pipeline"] = .string(spec.name)
        report["stages_per_run"] = .int(Int64(spec.stages.count))
        print(try JSONOutput.render(report))
    }
}

/// One bench's fixed parts; ``phase(runs:wave:store:)`` runs and measures one phase.
private struct Bench: Sendable {
    let spec: PipelineSpec
    let yaml: String
    let producer: KafkaProducer
    let topic: String
    let metrics: [String]
    let mlflowMirror: Bool
    let timeout: Duration
    let logger: Logger

    /// Submits `runs` runs in waves of `wave`, each wave after the last ended; the figures.
    func phase(runs: Int, wave: Int, store: BatonStore) async throws -> JSONValue {
        let runIDs = (0..<runs).map { _ in UUID() }
        let before = metrics.isEmpty ? nil : try await ServeMetrics.read(metrics, logger: logger)
        let started = Date()
        var views: [RunView] = []
        for start in stride(from: 0, to: runIDs.count, by: wave) {
            let batch = Array(runIDs[start..<min(start + wave, runIDs.count)])
            try await withThrowingTaskGroup { group in
                for runID in batch {
                    group.addTask {
                        let request = PipelineRequested(spec: yaml, runId: runID, requestedBy: "bench", noCache: true)
                        let event = try CloudEvent(source: "baton/bench", type: .pipelineRequested, payload: request)
                        _ = try await producer.send(KafkaEvents.message(event, topic: topic, key: runID.lowercased))
                    }
                }
                try await group.waitForAll()
            }
            views += try await Self.waitForAll(batch, store: store, timeout: timeout)
        }
        let finished = views.compactMap(\.finishedAt).max() ?? Date()
        let wall = max(finished.timeIntervalSince(started), 0.001)
        let ray = try await store.runs.rayStageFigures(runIDs: runIDs)
        var handoffs: [Double] = []
        var firstStage: [Double] = []
        var transitions = 0
        for view in views {
            let byName = Dictionary(uniqueKeysWithValues: view.stages.map { ($0.name, $0) })
            for stage in view.stages {
                if stage.finishedAt != nil { transitions += 1 }
                guard let start = stage.startedAt else { continue }
                let needs = spec.graph.needs[stage.name] ?? []
                if needs.isEmpty {
                    firstStage.append(start.timeIntervalSince(view.createdAt))
                    continue
                }
                // A hand-off: the last of the needed stages' attempts ended (its outcome written)
                // -> this stage's first attempt started (claimed).
                let ended = needs.compactMap { byName[$0]?.attemptHistory.max { $0.attempt < $1.attempt }?.finishedAt }
                let claimed = stage.attemptHistory.min { $0.attempt < $1.attempt }?.startedAt
                if ended.count == needs.count, let ready = ended.max(), let claimed {
                    handoffs.append(claimed.timeIntervalSince(ready))
                }
            }
        }
        let makespans = views.compactMap { $0.finishedAt?.timeIntervalSince($0.createdAt) }
        var report: [String: JSONValue] = [
            "runs": .int(Int64(views.count)),
            "in_flight": .int(Int64(wave)),
            "succeeded": .int(Int64(views.filter { $0.state == .succeeded }.count)),
            "wall_seconds": .double(wall),
            "runs_per_second": .double(Double(views.count) / wall),
            "stage_transitions": .int(Int64(transitions)),
            "stage_transitions_per_second": .double(Double(transitions) / wall),
            "run_makespan_seconds": Percentiles.summary(makespans),
            "per_stage_overhead_seconds": Percentiles.summary(makespans.map { $0 / Double(spec.stages.count) }),
            "request_to_first_stage_start_seconds": Percentiles.summary(firstStage),
            "stage_handoff_seconds": Percentiles.summary(handoffs),
        ]
        if !ray.readyToSubmitted.isEmpty {
            report["ray"] = .object([
                "stage_ready_to_submission_accepted_seconds": Percentiles.summary(ray.readyToSubmitted),
                "stage_ready_to_attempt_claimed_seconds": Percentiles.summary(ray.readyToClaimed),
                "ray_terminal_to_next_submission_seconds": Percentiles.summary(ray.endedToNextSubmitted),
                "ray_startup_seconds": Percentiles.summary(ray.rayStartup),
                "ray_job_run_seconds": Percentiles.summary(ray.rayRun),
                "ray_terminal_to_outcome_recorded_seconds": Percentiles.summary(ray.endedToRecorded),
            ])
        }
        if let before {
            // Let the last outcomes' steps reach the counters before the second read.
            try await Task.sleep(for: .milliseconds(500))
            let after = try await ServeMetrics.read(metrics, logger: logger)
            report["serve"] = after.report(since: before, transitions: transitions)
        }
        if mlflowMirror {
            report["mlflow_mirror"] = try await mirrorCatchUp(
                runIDs, started: started, lastEnded: finished, store: store)
        }
        return .object(report)
    }

    /// Waits until the MLflow mirror has every run of the phase: runs mirrored per second since
    /// the phase began, and how long after the last run ended the mirror caught up.
    func mirrorCatchUp(_ runIDs: [UUID], started: Date, lastEnded: Date, store: BatonStore) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let queued = try await store.mirror.mlflowMirrorQueued(among: runIDs) else {
                throw ValidationError("--mlflow-mirror: no MLflow mirror is running (serve without BATON_MLFLOW_URI?)")
            }
            if queued == 0 {
                let now = Date()
                return .object([
                    "runs_per_second": .double(Double(runIDs.count) / max(now.timeIntervalSince(started), 0.001)),
                    "caught_up_after_last_run_seconds": .double(max(now.timeIntervalSince(lastEnded), 0)),
                ])
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("the MLflow mirror did not catch up with the phase's runs within the timeout")
    }

    /// Waits for every run to end, then reads them. The wait polls one cheap statement (every
    /// 20 ms one run at a time, 200 ms in flight), so the bench takes little of the CPU it measures;
    /// the figures come from the database's timestamps, not from when the wait noticed.
    static func waitForAll(_ runIDs: [UUID], store: BatonStore, timeout: Duration) async throws -> [RunView] {
        let deadline = ContinuousClock.now + timeout
        var ended: Set<UUID> = []
        while ended.count < runIDs.count, ContinuousClock.now < deadline {
            ended = try await store.runs.endedRuns(runIDs)
            if ended.count < runIDs.count { try await Task.sleep(for: .milliseconds(runIDs.count == 1 ? 20 : 200)) }
        }
        var done: [UUID: RunView] = [:]
        for runID in runIDs where ended.contains(runID) { done[runID] = try await store.runs.run(runID) }
        guard done.count == runIDs.count else {
            throw ValidationError("only \(done.count) of \(runIDs.count) runs ended within the timeout")
        }
        return runIDs.compactMap { done[$0] }
    }
}
