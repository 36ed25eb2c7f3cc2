/// Log metadata keys, in one place so logs stay greppable: every metadata key Baton logs goes
/// through here (the Kafka wrapper, which knows nothing of Baton, keeps its own).
public enum LogKeys {
    // MARK: - Runs and attempts

    public static let runID = "run_id"
    public static let stage = "stage"
    public static let attempt = "attempt"
    public static let attemptID = "attempt_id"
    /// The state an attempt was found in.
    public static let state = "state"
    /// The attempt a cache hit reused.
    public static let cachedFrom = "cached_from"
    /// Whether an adopted Ray attempt's job was already submitted.
    public static let submitted = "submitted"
    /// Ray's status of an attempt's job.
    public static let rayStatus = "ray_status"
    public static let gateClause = "gate_clause"

    // MARK: - Models and rollouts

    public static let model = "model"
    public static let version = "version"
    /// How many versions of a model.
    public static let versions = "versions"
    public static let artifactURI = "artifact_uri"
    /// The version a rollout brings in.
    public static let candidate = "candidate"
    /// The version a rollout replaces.
    public static let stable = "stable"
    /// How a rollout ended: `succeeded` or `aborted`.
    public static let outcome = "outcome"

    // MARK: - Messages

    public static let eventID = "event_id"
    public static let eventType = "event_type"
    public static let topic = "topic"
    public static let partition = "partition"
    public static let offset = "offset"
    public static let outboxID = "outbox_id"
    /// A CloudEvents subject (`run/<id>/stage/<name>`).
    public static let subject = "subject"
    /// How often a message was handled.
    public static let attempts = "attempts"
    public static let payloadBytes = "payload_bytes"
    /// How a handling failure was classified (``HandlingFailure``).
    public static let failure = "failure"

    // MARK: - Retries and counts

    public static let error = "error"
    public static let count = "count"
    public static let retryIn = "retry_in"
    public static let retryInMilliseconds = "retry_in_ms"
    /// Failed polls of a mirror before it caught up.
    public static let failedPolls = "failed_polls"
    public static let mlflowRunID = "mlflow_run_id"
    /// What one sweep did, by what it found.
    public static let lost = "lost"
    public static let timedOut = "timed_out"
    public static let redrivenReady = "redriven_ready"
    public static let redrivenOutcomes = "redriven_outcomes"
    public static let noWorker = "no_worker"

    // MARK: - Roles

    public static let role = "role"
    public static let pool = "pool"

    // MARK: - Services, commands and the store

    public static let actor = "actor"
    public static let analysisRun = "analysis_run"
    public static let durationMilliseconds = "duration_ms"
    public static let errors = "errors"
    public static let folder = "folder"
    public static let instance = "instance"
    public static let keptBytes = "kept_bytes"
    public static let kind = "kind"
    public static let logBytes = "log_bytes"
    public static let method = "method"
    public static let migration = "migration"
    public static let packageURI = "package"
    public static let passed = "passed"
    public static let path = "path"
    public static let pools = "pools"
    public static let problems = "problems"
    public static let queryMilliseconds = "query_ms"
    public static let reason = "reason"
    public static let roles = "roles"
    public static let rollout = "rollout"
    public static let service = "service"
    public static let status = "status"
    public static let step = "step"
    public static let submissionID = "submission_id"
    public static let template = "template"
    public static let uri = "uri"
    public static let values = "values"
    public static let weight = "weight"
}
