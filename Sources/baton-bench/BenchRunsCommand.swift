import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonEngine
import BatonKafka
import BatonStore
import Foundation
import Logging

/// `baton bench [runs]`: many runs through a running `baton serve`, and the latencies they saw.
struct BenchRunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Submit many runs to a running `baton serve` and print latency figures as JSON.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "The spec file to run.") var pipeline = "examples/korean-llm-noop.yaml"
    @Option(help: "How many runs.") var runs = 50
    @Option(help: "Runs in flight at once: submitted in waves of this many (default: all at once).") var concurrency:
        Int?
    @Option(help: "Give up after this many seconds.") var timeout: Double = 600

    func run() async throws {
        options.bootstrapLogging()
        let logger = Logger(label: "baton.bench")
        let yaml = try String(contentsOfFile: pipeline, encoding: .utf8)
        let spec = try PipelineSpecParser.parse(yaml)
        let producer = try Runtime.makeProducer(options, logger: logger)
        let topic = options.topics().requested
        let started = Date()
        let runIDs = (0..<max(1, min(runs, 10_000))).map { _ in UUID() }
        let wave = max(1, concurrency ?? runIDs.count)
        let timeout = timeout
        let (views, ray) = try await Runtime.withStore(options, logger: logger) { store in
            var views: [RunView] = []
            for start in stride(from: 0, to: runIDs.count, by: wave) {
                let batch = Array(runIDs[start..<min(start + wave, runIDs.count)])
                try await withThrowingTaskGroup { group in
                    for runID in batch {
                        group.addTask {
                            let request = PipelineRequested(
                                spec: yaml, runId: runID, requestedBy: "bench", noCache: true)
                            let event = try CloudEvent(
                                source: "baton/bench", type: .pipelineRequested, payload: request)
                            _ = try await producer.send(KafkaEvents.message(event, topic: topic, key: runID.lowercased))
                        }
                    }
                    try await group.waitForAll()
                }
                views += try await Self.waitForAll(batch, store: store, timeout: .seconds(timeout))
            }
            return (views, try await store.runs.rayStageFigures(runIDs: runIDs))
        }
        await producer.shutdown()
        let finished = views.compactMap(\.finishedAt).max() ?? Date()
        var handoffs: [Double] = []
        var firstStage: [Double] = []
        for view in views {
            let byName = Dictionary(uniqueKeysWithValues: view.stages.map { ($0.name, $0) })
            for stage in view.stages {
                guard let start = stage.startedAt else { continue }
                let needs = spec.graph.needs[stage.name] ?? []
                if needs.isEmpty {
                    firstStage.append(start.timeIntervalSince(view.createdAt))
                } else if let ready = needs.compactMap({ byName[$0]?.finishedAt }).max() {
                    handoffs.append(start.timeIntervalSince(ready))
                }
            }
        }
        var report: [String: JSONValue] = [
            "pipeline": .string(spec.name),
            "stages_per_run": .int(Int64(spec.stages.count)),
            "runs": .int(Int64(views.count)),
            "succeeded": .int(Int64(views.filter { $0.state == .succeeded }.count)),
            "wall_seconds": .double(finished.timeIntervalSince(started)),
            "runs_per_second": .double(Double(views.count) / max(finished.timeIntervalSince(started), 0.001)),
            "run_makespan_seconds": Percentiles.summary(
                views.compactMap { $0.finishedAt?.timeIntervalSince($0.createdAt) }),
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
        print(try JSONOutput.render(report))
    }

    static func waitForAll(_ runIDs: [UUID], store: BatonStore, timeout: Duration) async throws -> [RunView] {
        let deadline = ContinuousClock.now + timeout
        var done: [UUID: RunView] = [:]
        while done.count < runIDs.count, ContinuousClock.now < deadline {
            for runID in runIDs where done[runID] == nil {
                if let view = try await store.runs.run(runID), view.state.isTerminal { done[runID] = view }
            }
            if done.count < runIDs.count { try await Task.sleep(for: .milliseconds(500)) }
        }
        guard done.count == runIDs.count else {
            throw ValidationError("only \(done.count) of \(runIDs.count) runs ended within the timeout")
        }
        return runIDs.compactMap { done[$0] }
    }
}
