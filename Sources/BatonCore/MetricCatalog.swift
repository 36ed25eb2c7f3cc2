/// One metric Baton exports at `/metrics`: its Prometheus name, kind, meaning and labels.
///
/// Every metric is declared once, in ``MetricCatalog``; the code that records it takes the
/// name from here, `baton metrics` prints the catalog, and the dashboards and alert rules in
/// `deploy/monitoring/` are tested against it. Label values are always from a bounded set
/// (states, pools, pipeline and stage names an operator applied), never from a message.
public struct MetricDefinition: Sendable, Hashable, Codable {
    /// How Prometheus reads the metric.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Only goes up (until the process restarts); read with `rate()`.
        case counter
        /// A value now, set again and again.
        case gauge
        /// Observations counted into buckets (`_bucket`, `_sum`, `_count`), in seconds.
        case histogram
    }

    /// The Prometheus name, e.g. `baton_outbox_pending`.
    public var name: String
    /// How Prometheus reads it.
    public var kind: Kind
    /// What it measures, in one sentence.
    public var help: String
    /// Its label names, in order.
    public var labels: [String]
    /// A histogram's bucket upper bounds in seconds; empty for other kinds.
    public var buckets: [Double]

    init(_ name: String, _ kind: Kind, _ help: String, labels: [String] = [], buckets: [Double] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = labels
        self.buckets = buckets
    }
}

/// Every metric Baton exports, by concern.
public enum MetricCatalog {
    /// Buckets for steps that take milliseconds to a minute (hand-offs, HTTP calls, handling).
    static let fastBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    /// Buckets for the steps of a hand-off: half a millisecond to ten seconds.
    static let hopBuckets: [Double] = [
        0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 10,
    ]
    /// Buckets for work that takes seconds to a day (stages, waits in a queue).
    static let slowBuckets: [Double] = [0.1, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]

    // MARK: Outbox and messaging

    /// Outbox rows published to the broker.
    public static let outboxPublished = MetricDefinition(
        "baton_outbox_published_total", .counter, "Outbox rows the relay published to the broker.")
    /// Outbox rows parked (refused for good by the broker).
    public static let outboxParkedTotal = MetricDefinition(
        "baton_outbox_parked_total", .counter, "Outbox rows the relay parked because the broker refused them for good.")
    /// Outbox rows not published yet.
    public static let outboxPending = MetricDefinition(
        "baton_outbox_pending", .gauge, "Outbox rows waiting to be published (parked rows not included).")
    /// The age of the oldest outbox row not published yet.
    public static let outboxOldestPending = MetricDefinition(
        "baton_outbox_oldest_pending_seconds", .gauge,
        "Age of the oldest outbox row waiting to be published; 0 when none waits.")
    /// Outbox rows parked now.
    public static let outboxParked = MetricDefinition(
        "baton_outbox_parked", .gauge, "Outbox rows parked now, waiting for `baton outbox retry`.")
    /// Messages dead-lettered.
    public static let deadLetters = MetricDefinition(
        "baton_dead_letters_total", .counter, "Messages a consumer dead-lettered.", labels: ["consumer"])
    /// Events handled.
    public static let eventsHandled = MetricDefinition(
        "baton_events_handled_total", .counter, "Events the coordinator handled, by CloudEvent type.",
        labels: ["consumer", "type"])
    /// Time to handle one message.
    public static let eventHandling = MetricDefinition(
        "baton_event_handling_seconds", .histogram, "Time a consumer took to handle one message.",
        labels: ["consumer"], buckets: fastBuckets)
    /// One step of an event's way from the transaction that wrote it to the consumer that acts on it.
    public static let handoffHop = MetricDefinition(
        "baton_handoff_hop_seconds", .histogram,
        "Time one step of an event's way from its transaction to its consumer took (HandoffHop names the steps).",
        labels: ["consumer", "hop"], buckets: hopBuckets)
    /// Handling failures that will be retried.
    public static let handlingRetries = MetricDefinition(
        "baton_handling_retries_total", .counter, "Messages whose handling failed and will be tried again.",
        labels: ["consumer", "failure"])
    /// Producer rebuilds.
    public static let producerRebuilds = MetricDefinition(
        "baton_kafka_producer_rebuilds_total", .counter, "Kafka producers rebuilt after a fatal librdkafka error.")
    /// Consumer lag.
    public static let consumerLag = MetricDefinition(
        "baton_consumer_lag_messages", .gauge,
        "Records of a partition this process consumes that it has not consumed yet (librdkafka statistics).",
        labels: ["group", "topic", "partition"])

    // MARK: Runs and attempts

    /// Runs by state, non-terminal states only.
    public static let runs = MetricDefinition(
        "baton_runs", .gauge, "Runs in a state that is not terminal (running).", labels: ["state"])
    /// Runs that look stuck.
    public static let runsStalled = MetricDefinition(
        "baton_runs_stalled", .gauge,
        "Running runs with no attempt queued or running and no change for five minutes.")
    /// Runs that ended.
    public static let runsFinished = MetricDefinition(
        "baton_runs_finished_total", .counter, "Runs that ended, by pipeline and final state.",
        labels: ["pipeline", "state"])
    /// Attempts queued or running now.
    public static let attempts = MetricDefinition(
        "baton_attempts", .gauge, "Stage attempts queued or running now, by worker pool.", labels: ["pool", "state"])
    /// Attempts that ended.
    public static let attemptsFinished = MetricDefinition(
        "baton_stage_attempts_total", .counter, "Stage attempts that ended, by state (`cached` for cache hits).",
        labels: ["state"])
    /// Time from an attempt queued to claimed.
    public static let queueWait = MetricDefinition(
        "baton_queue_wait_seconds", .histogram, "Time from a stage attempt queued to a worker claiming it.",
        labels: ["pool"], buckets: slowBuckets)
    /// Time from claim to outcome.
    public static let stageDuration = MetricDefinition(
        "baton_stage_duration_seconds", .histogram, "Time from a worker claiming a stage attempt to its outcome.",
        labels: ["pipeline", "stage", "outcome"], buckets: slowBuckets)
    /// GPU time used.
    public static let gpuSeconds = MetricDefinition(
        "baton_gpu_seconds_total", .counter, "GPU-seconds reserved by stage attempts (GPUs times duration).",
        labels: ["pipeline"])
    /// GPU time the cache saved.
    public static let gpuSecondsSaved = MetricDefinition(
        "baton_gpu_seconds_saved_total", .counter,
        "GPU-seconds the stage cache saved: what the reused attempt had reserved.", labels: ["pipeline"])
    /// Attempts failed for want of a worker.
    public static let attemptsWithoutWorker = MetricDefinition(
        "baton_attempts_without_worker_total", .counter,
        "Queued attempts failed because no live worker serves their pool.")
    /// Sweeper actions.
    public static let sweeperActions = MetricDefinition(
        "baton_sweeper_actions_total", .counter, "What the sweeper did to keep runs moving.", labels: ["action"])
    /// Ray submission latency.
    public static let raySubmit = MetricDefinition(
        "baton_ray_submit_seconds", .histogram, "Time Ray took to accept a job submission.", buckets: fastBuckets)

    // MARK: Gates, rollouts, serving

    /// Gate decisions.
    public static let gateDecisions = MetricDefinition(
        "baton_gate_decisions_total", .counter, "Gate decisions, by pipeline and outcome (passed, rejected).",
        labels: ["pipeline", "outcome"])
    /// Canary weight.
    public static let rolloutWeight = MetricDefinition(
        "baton_rollout_weight", .gauge, "Percent of a model's traffic its candidate version gets now.",
        labels: ["model"])
    /// Canary analyses.
    public static let rolloutAnalyses = MetricDefinition(
        "baton_rollout_analyses_total", .counter, "Rollout steps analysed, by model and result (passed, failed).",
        labels: ["model", "result"])
    /// Champion restores.
    public static let serveRestores = MetricDefinition(
        "baton_serve_restores_total", .counter, "The sweeper's checks that a champion is served, by outcome.",
        labels: ["target", "outcome"])

    // MARK: MLflow mirror

    /// Mirror failures.
    public static let mirrorFailures = MetricDefinition(
        "baton_mlflow_mirror_failures_total", .counter, "MLflow mirror passes that failed (retried).")
    /// Runs the mirror is behind.
    public static let mirrorRunsBehind = MetricDefinition(
        "baton_mlflow_mirror_runs_behind", .gauge, "Runs changed in PostgreSQL and not yet brought to MLflow.")
    /// Age of the oldest unmirrored change.
    public static let mirrorLag = MetricDefinition(
        "baton_mlflow_mirror_lag_seconds", .gauge, "Age of the oldest change not yet brought to MLflow; 0 when none.")
    /// Parkings.
    public static let mirrorParkedTotal = MetricDefinition(
        "baton_mlflow_mirror_parked_total", .counter, "Runs or models the mirror parked because MLflow refused them.",
        labels: ["kind"])
    /// Parked now.
    public static let mirrorParked = MetricDefinition(
        "baton_mlflow_mirror_parked", .gauge, "Runs or models parked now, waiting for `baton mirror retry`.",
        labels: ["kind"])

    // MARK: Outbound HTTP

    /// Outbound calls.
    public static let httpRequests = MetricDefinition(
        "baton_http_client_requests_total", .counter,
        "Calls to Ray, MLflow, Kubernetes, Prometheus and S3, by service, endpoint and outcome (HTTP status class or error).",
        labels: ["service", "endpoint", "outcome"])
    /// Outbound call latency.
    public static let httpRequestDuration = MetricDefinition(
        "baton_http_client_request_seconds", .histogram, "Time of one outbound HTTP call, answer included.",
        labels: ["service", "endpoint"], buckets: fastBuckets)

    // MARK: The process

    /// CPU time of the process (user and system), read from the kernel at each scrape.
    public static let processCPU = MetricDefinition(
        "process_cpu_seconds_total", .counter, "CPU time the process has used, user and system, in seconds.")
    /// Resident memory of the process now.
    public static let processMemory = MetricDefinition(
        "process_resident_memory_bytes", .gauge, "Resident memory of the process, in bytes.")
    /// The most resident memory the process has had.
    public static let processPeakMemory = MetricDefinition(
        "process_max_resident_memory_bytes", .gauge, "The most resident memory the process has had, in bytes.")

    /// Every metric, in the order `baton metrics` prints them.
    public static let all: [MetricDefinition] = [
        outboxPublished, outboxParkedTotal, outboxPending, outboxOldestPending, outboxParked, deadLetters,
        eventsHandled, eventHandling, handoffHop, handlingRetries, producerRebuilds, consumerLag,
        runs, runsStalled, runsFinished, attempts, attemptsFinished, queueWait, stageDuration, gpuSeconds,
        gpuSecondsSaved, attemptsWithoutWorker, sweeperActions, raySubmit,
        gateDecisions, rolloutWeight, rolloutAnalyses, serveRestores,
        mirrorFailures, mirrorRunsBehind, mirrorLag, mirrorParkedTotal, mirrorParked,
        httpRequests, httpRequestDuration, processCPU, processMemory, processPeakMemory,
    ]
}
