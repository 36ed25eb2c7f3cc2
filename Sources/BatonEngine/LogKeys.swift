/// Log metadata keys, in one place so logs stay greppable: every metadata key the engine's roles
/// and executors log goes through here.
enum LogKeys {
    // MARK: - Runs and attempts

    static let runID = "run_id"
    static let stage = "stage"
    static let attempt = "attempt"
    static let attemptID = "attempt_id"
    /// The state an attempt was found in.
    static let state = "state"
    /// The attempt a cache hit reused.
    static let cachedFrom = "cached_from"
    /// Whether an adopted Ray attempt's job was already submitted.
    static let submitted = "submitted"
    /// Ray's status of an attempt's job.
    static let rayStatus = "ray_status"
    static let gateClause = "gate_clause"

    // MARK: - Models and rollouts

    static let model = "model"
    static let version = "version"
    /// How many versions of a model.
    static let versions = "versions"
    static let artifactURI = "artifact_uri"
    /// The version a rollout brings in.
    static let candidate = "candidate"
    /// The version a rollout replaces.
    static let stable = "stable"
    /// How a rollout ended: `succeeded` or `aborted`.
    static let outcome = "outcome"

    // MARK: - Messages

    static let eventID = "event_id"
    static let eventType = "event_type"
    static let topic = "topic"
    static let partition = "partition"
    static let offset = "offset"
    static let outboxID = "outbox_id"
    /// A CloudEvents subject (`run/<id>/stage/<name>`).
    static let subject = "subject"
    /// How often a message was handled.
    static let attempts = "attempts"
    static let payloadBytes = "payload_bytes"
    /// How a handling failure was classified (``HandlingFailure``).
    static let failure = "failure"

    // MARK: - Retries and counts

    static let error = "error"
    static let count = "count"
    static let retryIn = "retry_in"
    static let retryInMilliseconds = "retry_in_ms"
    /// Failed polls of a mirror before it caught up.
    static let failedPolls = "failed_polls"
    static let mlflowRunID = "mlflow_run_id"
    /// What one sweep did, by what it found.
    static let lost = "lost"
    static let timedOut = "timed_out"
    static let redrivenReady = "redriven_ready"
    static let redrivenOutcomes = "redriven_outcomes"
    static let noWorker = "no_worker"

    // MARK: - Roles

    static let role = "role"
    static let pool = "pool"
}
