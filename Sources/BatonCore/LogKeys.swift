/// Log metadata keys, in one place so logs stay greppable: every metadata key Baton logs goes
/// through here (the Kafka wrapper, which knows nothing of Baton, keeps its own).
public enum LogKeys {
    // MARK: - Runs and attempts

    /// The run's id.
    public static let runID = "run_id"
    /// A stage's name.
    public static let stage = "stage"
    /// An attempt's 1-based number.
    public static let attempt = "attempt"
    /// An attempt's id.
    public static let attemptID = "attempt_id"
    /// The state an attempt was found in.
    public static let state = "state"
    /// The attempt a cache hit reused.
    public static let cachedFrom = "cached_from"
    /// Whether an adopted Ray attempt's job was already submitted.
    public static let submitted = "submitted"
    /// Ray's status of an attempt's job.
    public static let rayStatus = "ray_status"
    /// The clauses that made a gate's condition false.
    public static let gateClause = "gate_clause"

    // MARK: - Models and rollouts

    /// A registered model's name.
    public static let model = "model"
    /// A model version's number.
    public static let version = "version"
    /// How many versions of a model.
    public static let versions = "versions"
    /// Where an artifact lives.
    public static let artifactURI = "artifact_uri"
    /// The version a rollout brings in.
    public static let candidate = "candidate"
    /// The version a rollout replaces.
    public static let stable = "stable"
    /// A schedule's name.
    public static let schedule = "schedule"
    /// A schedule's tick.
    public static let tick = "tick"
    /// How a rollout ended: `succeeded` or `aborted`; how a champion's restore ended.
    public static let outcome = "outcome"
    /// A rollout target, e.g. `ray-serve`.
    public static let target = "target"

    // MARK: - Messages

    /// A CloudEvent's `id`.
    public static let eventID = "event_id"
    /// A CloudEvent's `type`.
    public static let eventType = "event_type"
    /// A Kafka topic.
    public static let topic = "topic"
    /// A Kafka partition.
    public static let partition = "partition"
    /// A Kafka offset.
    public static let offset = "offset"
    /// An outbox row's id.
    public static let outboxID = "outbox_id"
    /// A CloudEvents subject (`run/<id>/stage/<name>`).
    public static let subject = "subject"
    /// How often a message was handled.
    public static let attempts = "attempts"
    /// The size of a message's payload, in bytes.
    public static let payloadBytes = "payload_bytes"
    /// How a handling failure was classified (``HandlingFailure``).
    public static let failure = "failure"

    // MARK: - Retries and counts

    /// The error, as text.
    public static let error = "error"
    /// How many things an operation handled.
    public static let count = "count"
    /// A time limit that ran out.
    public static let timeLimit = "time_limit"
    /// The wait before the next try, as a duration.
    public static let retryIn = "retry_in"
    /// The wait before the next try, in milliseconds.
    public static let retryInMilliseconds = "retry_in_ms"
    /// Failed polls of a mirror before it caught up.
    public static let failedPolls = "failed_polls"
    /// An MLflow run's id.
    public static let mlflowRunID = "mlflow_run_id"
    /// What one sweep did, by what it found.
    public static let lost = "lost"
    /// Running attempts a sweep ended as `timed_out`.
    public static let timedOut = "timed_out"
    /// Queued attempts whose `stage.ready` a sweep wrote again.
    public static let redrivenReady = "redriven_ready"
    /// Ended attempts whose outcome a sweep wrote again.
    public static let redrivenOutcomes = "redriven_outcomes"
    /// Requests the coordinator never handled, published again.
    public static let redrivenRequests = "redriven_requests"
    /// Queued attempts a sweep failed because no live worker serves their pool.
    public static let noWorker = "no_worker"

    // MARK: - Roles

    /// The engine role that logs, e.g. `watcher`, `sweeper`, `relay`.
    public static let role = "role"
    /// A worker pool's name.
    public static let pool = "pool"

    // MARK: - Services, commands and the store

    /// Who did something: a user name, or `baton/<run id>` for the engine.
    public static let actor = "actor"
    /// The name of an Argo AnalysisRun.
    public static let analysisRun = "analysis_run"
    /// How long something took, in milliseconds.
    public static let durationMilliseconds = "duration_ms"
    /// Measurements that could not be taken.
    public static let errors = "errors"
    /// A local folder's path.
    public static let folder = "folder"
    /// The id of an engine instance.
    public static let instance = "instance"
    /// How many bytes of a log were kept.
    public static let keptBytes = "kept_bytes"
    /// The kind of a thing, e.g. a parked mirror item's.
    public static let kind = "kind"
    /// A log's full size, in bytes.
    public static let logBytes = "log_bytes"
    /// An HTTP method.
    public static let method = "method"
    /// A database migration's name.
    public static let migration = "migration"
    /// An API operation's id, e.g. `createRun`.
    public static let operation = "operation"
    /// The URI of an uploaded working_dir package.
    public static let packageURI = "package"
    /// Whether an analysis or check passed.
    public static let passed = "passed"
    /// An HTTP request's path.
    public static let path = "path"
    /// The worker pools an instance serves, comma-separated.
    public static let pools = "pools"
    /// Problems found, e.g. failed measurements of an analysis.
    public static let problems = "problems"
    /// How long each query took, in milliseconds.
    public static let queryMilliseconds = "query_ms"
    /// Why something happened, in words.
    public static let reason = "reason"
    /// The engine roles an instance runs, comma-separated.
    public static let roles = "roles"
    /// An Argo Rollout, as `<namespace>/<name>`.
    public static let rollout = "rollout"
    /// The remote service an HTTP client talks to.
    public static let service = "service"
    /// An HTTP response's status.
    public static let status = "status"
    /// A rollout step's 0-based index.
    public static let step = "step"
    /// A Ray job's submission id.
    public static let submissionID = "submission_id"
    /// An analysis template's name.
    public static let template = "template"
    /// A URI, e.g. a model version's artifact.
    public static let uri = "uri"
    /// The values an analysis measured.
    public static let values = "values"
    /// A candidate's share of traffic, 0-100.
    public static let weight = "weight"
}
