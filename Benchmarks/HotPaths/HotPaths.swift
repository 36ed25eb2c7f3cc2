import BatonCore
import Benchmark
import Foundation

/// Micro-benchmarks of the engine's hot paths that involve no I/O: what a worker and the
/// coordinator compute per event (`make bench-micro`, docs/performance.md). The spec is the
/// reference pipeline's noop twin, `examples/korean-llm-noop.yaml`, read once at start.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput], warmupIterations: 50,
        maxDuration: .seconds(3), maxIterations: 100_000)

    let yaml = referenceSpec()
    guard let spec = try? PipelineSpecParser.parse(yaml) else {
        fatalError("examples/korean-llm-noop.yaml does not parse: the micro-benchmarks need the reference pipeline")
    }
    let planner = RunPlanner(spec: spec, params: [:])
    let stages = spec.stages.map(\.name)

    // The spec of a run not seen before: parsed and validated in full.
    Benchmark("spec: parse and validate (8 stages)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try PipelineSpecParser.parse(yaml))
        }
    }

    // Every event about a run: the spec its row carries, found in the cache.
    Benchmark("spec: cache hit") { benchmark in
        _ = try PipelineSpecCache.shared.spec(yaml)
        for _ in benchmark.scaledIterations {
            blackHole(try PipelineSpecCache.shared.spec(yaml))
        }
    }

    // The coordinator's (or a worker's hand-off's) decision after an attempt succeeded.
    Benchmark("planner: outcome of a stage that succeeded") { benchmark in
        var states = Dictionary(uniqueKeysWithValues: stages.map { ($0, StageState.pending) })
        states[stages[0]] = .running
        let outcome = StageOutcome(
            runId: UUID(), stage: stages[0], attemptId: UUID(), attempt: 1, state: .succeeded)
        for _ in benchmark.scaledIterations {
            blackHole(planner.apply(outcome, states: states, countedAttempts: 1, lostAttempts: 0))
        }
    }

    let outcome = StageOutcome(
        runId: UUID(), stage: "sft", attemptId: UUID(), attempt: 1, state: .failed,
        error: "job exited with code 1", errorType: "job_failed")
    guard
        let event = try? CloudEvent(
            source: "baton/bench", type: .stageFailed, subject: "run/\(outcome.runId)/stage/sft", payload: outcome)
    else { fatalError("an outcome does not encode") }

    // The relay's side: an event's payload and headers.
    Benchmark("event: encode an outcome (payload and headers)") { benchmark in
        for _ in benchmark.scaledIterations {
            let data = try CloudEvent.encode(outcome)
            blackHole(data)
            blackHole(CloudEventCodec.headers(for: event))
        }
    }

    // A consumer's side: a record read back into an event, its payload decoded.
    let headers = CloudEventCodec.headers(for: event)
    Benchmark("event: decode a record and its outcome") { benchmark in
        for _ in benchmark.scaledIterations {
            let decoded = try CloudEventCodec.decode(
                headers: headers, value: event.data, defaultType: "stage.failed", fallbackID: "t/0/0")
            blackHole(try decoded.decode(StageOutcome.self))
        }
    }
}

/// The reference noop pipeline's YAML, from the package's `examples/` folder.
private func referenceSpec() -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let file = root.appendingPathComponent("examples/korean-llm-noop.yaml")
    guard let yaml = try? String(contentsOf: file, encoding: .utf8) else {
        fatalError("cannot read \(file.path): the micro-benchmarks read the reference pipeline from examples/")
    }
    return yaml
}
