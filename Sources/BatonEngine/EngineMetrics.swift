import BatonCore
import Metrics

/// Metric names and labels, in one place.
public enum EngineMetrics {
    /// An event was handled; types Baton does not know are counted as `other` (the type comes from
    /// the wire, and a label must not take unbounded values).
    static func eventHandled(consumer: String, type: String) {
        let label = EventType(rawValue: type) == nil ? "other" : type
        Counter(label: "baton_events_handled_total", dimensions: [("consumer", consumer), ("type", label)]).increment()
    }

    /// Handling a message failed and will be tried again; `transient` when the infrastructure is away.
    static func handlingRetried(consumer: String, transient: Bool) {
        Counter(
            label: "baton_handling_retries_total",
            dimensions: [("consumer", consumer), ("failure", transient ? "transient" : "unknown")]
        ).increment()
    }

    /// The relay parked an outbox row the broker refused for good.
    static func outboxParked(_ count: Int) {
        Counter(label: "baton_outbox_parked_total").increment(by: count)
    }

    /// The producer was rebuilt after a fatal librdkafka error.
    public static func producerRebuilt() {
        Counter(label: "baton_kafka_producer_rebuilds_total").increment()
    }

    /// Queued attempts failed because no live worker serves their pool.
    static func noWorker(_ count: Int) {
        guard count > 0 else { return }
        Counter(label: "baton_attempts_without_worker_total").increment(by: count)
    }

    static func deadLettered(consumer: String) {
        Counter(label: "baton_dead_letters_total", dimensions: [("consumer", consumer)]).increment()
    }

    static func published(_ count: Int) {
        Counter(label: "baton_outbox_published_total").increment(by: count)
    }

    static func attemptFinished(state: String) {
        Counter(label: "baton_stage_attempts_total", dimensions: [("state", state)]).increment()
    }

    static func swept(_ kind: String, _ count: Int) {
        guard count > 0 else { return }
        Counter(label: "baton_sweeper_actions_total", dimensions: [("action", kind)]).increment(by: count)
    }

    static func raySubmitted(seconds: Double) {
        Timer(label: "baton_ray_submit_seconds").recordNanoseconds(Int64(seconds * 1e9))
    }

    static func handlingLatency(consumer: String, seconds: Double) {
        Timer(label: "baton_event_handling_seconds", dimensions: [("consumer", consumer)])
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// The sweeper checked a champion's serving on `target`: `outcome` is `restored`,
    /// `already_serving`, `left_alone` (the platform serves something else, nothing missing),
    /// `skipped` (a rollout of the model is in progress) or `failed`.
    static func serveRestore(target: String, outcome: String) {
        Counter(label: "baton_serve_restores_total", dimensions: [("target", target), ("outcome", outcome)])
            .increment()
    }

    /// The MLflow mirror parked a run or a model MLflow refused for good.
    static func mlflowMirrorParking(kind: String) {
        Counter(label: "baton_mlflow_mirror_parked_total", dimensions: [("kind", kind)]).increment()
    }

    /// How many runs or models are parked now, waiting for `baton mirror retry`.
    static func mlflowMirrorParked(kind: String, count: Int) {
        Gauge(label: "baton_mlflow_mirror_parked", dimensions: [("kind", kind)]).record(count)
    }
}
