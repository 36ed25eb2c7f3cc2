import BatonCore
import BatonStore
import Foundation
import Metrics

/// Records the engine's metrics; every name and label set comes from ``MetricCatalog``.
public enum EngineMetrics {
    /// An event was handled; types Baton does not know are counted as `other` (the type comes from
    /// the wire, and a label must not take unbounded values).
    static func eventHandled(consumer: String, type: String) {
        let label = EventType(rawValue: type) == nil ? "other" : type
        counter(MetricCatalog.eventsHandled, consumer, label).increment()
    }

    /// Handling a message failed and will be tried again; `transient` when the infrastructure is away.
    static func handlingRetried(consumer: String, transient: Bool) {
        counter(MetricCatalog.handlingRetries, consumer, transient ? "transient" : "unknown").increment()
    }

    /// The relay parked an outbox row the broker refused for good.
    static func outboxParked(_ count: Int) {
        counter(MetricCatalog.outboxParkedTotal).increment(by: count)
    }

    /// The producer was rebuilt after a fatal librdkafka error.
    public static func producerRebuilt() {
        counter(MetricCatalog.producerRebuilds).increment()
    }

    /// Queued attempts failed because no live worker serves their pool.
    static func noWorker(_ count: Int) {
        guard count > 0 else { return }
        counter(MetricCatalog.attemptsWithoutWorker).increment(by: count)
    }

    static func deadLettered(consumer: String) {
        counter(MetricCatalog.deadLetters, consumer).increment()
    }

    static func published(_ count: Int) {
        counter(MetricCatalog.outboxPublished).increment(by: count)
    }

    /// A worker claimed `claim`: how long it waited in its pool's queue.
    static func claimed(_ claim: ClaimedAttempt) {
        timer(MetricCatalog.queueWait, claim.pool).record(seconds: claim.startedAt.timeIntervalSince(claim.claimableAt))
    }

    /// `claim` ended in `state`, after running with `gpus` GPUs reserved.
    static func attemptFinished(_ claim: ClaimedAttempt, state: AttemptState, gpus: Double = 0) {
        counter(MetricCatalog.attemptsFinished, state.rawValue).increment()
        let seconds = max(0, Date.now.timeIntervalSince(claim.startedAt))
        timer(MetricCatalog.stageDuration, claim.pipeline, claim.stage, state.rawValue).record(seconds: seconds)
        if gpus > 0 { floatingCounter(MetricCatalog.gpuSeconds, claim.pipeline).increment(by: seconds * gpus) }
    }

    /// `claim` was served from the cache instead of running `source` again.
    static func attemptCached(_ claim: ClaimedAttempt, source: CacheCandidate) {
        counter(MetricCatalog.attemptsFinished, "cached").increment()
        let seconds = max(0, Date.now.timeIntervalSince(claim.startedAt))
        timer(MetricCatalog.stageDuration, claim.pipeline, claim.stage, "cached").record(seconds: seconds)
        if source.gpuSeconds > 0 {
            floatingCounter(MetricCatalog.gpuSecondsSaved, claim.pipeline).increment(by: source.gpuSeconds)
        }
    }

    /// A gate of `pipeline` decided.
    static func gateDecided(pipeline: String, passed: Bool) {
        counter(MetricCatalog.gateDecisions, pipeline, passed ? "passed" : "rejected").increment()
    }

    /// A rollout of `model` stepped to `weight` percent; `analysisPassed` is nil for a step
    /// without an analysis.
    static func rolloutStepped(model: String, weight: Int, analysisPassed: Bool?) {
        gauge(MetricCatalog.rolloutWeight, model).record(weight)
        if let analysisPassed {
            counter(MetricCatalog.rolloutAnalyses, model, analysisPassed ? "passed" : "failed").increment()
        }
    }

    /// A run of `pipeline` ended in `state`.
    static func runFinished(pipeline: String, state: RunState) {
        counter(MetricCatalog.runsFinished, pipeline, state.rawValue).increment()
    }

    static func swept(_ kind: String, _ count: Int) {
        guard count > 0 else { return }
        counter(MetricCatalog.sweeperActions, kind).increment(by: count)
    }

    static func raySubmitted(seconds: Double) {
        timer(MetricCatalog.raySubmit).record(seconds: seconds)
    }

    /// One step of an event's way to `consumer` (`relay` for the relay's own steps) took `seconds`.
    static func hop(_ hop: HandoffHop, consumer: String, seconds: Double) {
        timer(MetricCatalog.handoffHop, consumer, hop.rawValue).record(seconds: seconds)
    }

    static func handlingLatency(consumer: String, seconds: Double) {
        timer(MetricCatalog.eventHandling, consumer).record(seconds: seconds)
    }

    /// The sweeper checked a champion's serving on `target`: `outcome` is `restored`,
    /// `already_serving`, `left_alone` (the platform serves something else, nothing missing),
    /// `skipped` (a rollout of the model is in progress) or `failed`.
    static func serveRestore(target: String, outcome: String) {
        counter(MetricCatalog.serveRestores, target, outcome).increment()
    }

    /// A pass of the MLflow mirror failed.
    static func mlflowMirrorFailed() {
        counter(MetricCatalog.mirrorFailures).increment()
    }

    /// The MLflow mirror parked a run or a model MLflow refused for good.
    static func mlflowMirrorParking(kind: String) {
        counter(MetricCatalog.mirrorParkedTotal, kind).increment()
    }

    /// How many runs or models are parked now, waiting for `baton mirror retry`.
    static func mlflowMirrorParked(kind: String, count: Int) {
        gauge(MetricCatalog.mirrorParked, kind).record(count)
    }

    /// How many runs the MLflow mirror has still to bring to MLflow.
    static func mlflowMirrorBehind(_ runs: Int) {
        gauge(MetricCatalog.mirrorRunsBehind).record(runs)
    }

    /// What the database says now about the engine's backlog (``EngineStatistics``).
    static func record(_ snapshot: EngineSnapshot) {
        gauge(MetricCatalog.outboxPending).record(snapshot.outboxPending)
        gauge(MetricCatalog.outboxOldestPending).record(snapshot.outboxOldestPendingSeconds)
        gauge(MetricCatalog.outboxParked).record(snapshot.outboxParked)
        gauge(MetricCatalog.runs, RunState.running.rawValue).record(snapshot.runsRunning)
        gauge(MetricCatalog.runsStalled).record(snapshot.runsStalled)
        gauge(MetricCatalog.mirrorLag).record(snapshot.mirrorLagSeconds)
        for pool in snapshot.pools {
            gauge(MetricCatalog.attempts, pool.pool, AttemptState.queued.rawValue).record(pool.queued)
            gauge(MetricCatalog.attempts, pool.pool, AttemptState.running.rawValue).record(pool.running)
        }
    }

    // MARK: - Handles

    /// The counter of `metric` with `values` for its labels, in order.
    static func counter(_ metric: MetricDefinition, _ values: String...) -> Counter {
        Counter(label: metric.name, dimensions: dimensions(metric, values))
    }

    static func floatingCounter(_ metric: MetricDefinition, _ values: String...) -> FloatingPointCounter {
        FloatingPointCounter(label: metric.name, dimensions: dimensions(metric, values))
    }

    static func gauge(_ metric: MetricDefinition, _ values: String...) -> Gauge {
        Gauge(label: metric.name, dimensions: dimensions(metric, values))
    }

    static func timer(_ metric: MetricDefinition, _ values: String...) -> Metrics.Timer {
        Metrics.Timer(label: metric.name, dimensions: dimensions(metric, values))
    }

    private static func dimensions(_ metric: MetricDefinition, _ values: [String]) -> [(String, String)] {
        precondition(values.count == metric.labels.count, "\(metric.name) takes labels \(metric.labels)")
        return Array(zip(metric.labels, values))
    }
}

extension Metrics.Timer {
    /// Records a duration given in seconds (negative clock skew counts as 0).
    func record(seconds: Double) {
        recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }
}
