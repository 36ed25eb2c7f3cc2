import Foundation

/// Data of `pipeline.requested`: which pipeline to run, with which params.
///
/// Either `pipeline` (a name applied with `baton pipelines apply`, optionally with a
/// `version`) or `spec` (inline YAML) must be set. Every field is bounded by ``RequestLimits``;
/// a request past a bound is rejected before it costs anything.
public struct PipelineRequested: Sendable, Hashable, Codable {
    /// The name of an applied pipeline to run; nil when `spec` is given.
    public var pipeline: String?
    /// The applied pipeline's version; nil for its latest.
    public var version: Int?
    /// An inline pipeline spec in YAML; nil when `pipeline` is given.
    public var spec: String?
    /// Values for the pipeline's declared params; a param left out takes its default.
    public var params: [String: JSONValue]?
    /// Requests with the same key make one run.
    public var idempotencyKey: String?
    /// The run id to use; a new one is made when absent.
    public var runId: UUID?
    /// Free-form labels stored with the run.
    public var labels: [String: String]?
    /// Who asked for the run, e.g. a user name or `bench`; stored with the run.
    public var requestedBy: String?
    /// Run every stage, whatever the cache holds.
    public var noCache: Bool?
    /// Re-run this run (its spec and params) from `retryFrom`: the stages upstream of it reuse
    /// this run's outputs, it and everything downstream run again.
    public var retryOf: UUID?
    /// The stage a retry starts from; required with `retryOf`.
    public var retryFrom: String?

    /// A request with the given fields; every field is optional.
    public init(
        pipeline: String? = nil, version: Int? = nil, spec: String? = nil, params: [String: JSONValue]? = nil,
        idempotencyKey: String? = nil, runId: UUID? = nil, labels: [String: String]? = nil, requestedBy: String? = nil,
        noCache: Bool? = nil, retryOf: UUID? = nil, retryFrom: String? = nil
    ) {
        self.pipeline = pipeline
        self.version = version
        self.spec = spec
        self.params = params
        self.idempotencyKey = idempotencyKey
        self.runId = runId
        self.labels = labels
        self.requestedBy = requestedBy
        self.noCache = noCache
        self.retryOf = retryOf
        self.retryFrom = retryFrom
    }

    enum CodingKeys: String, CodingKey {
        case pipeline, version, spec, params, labels
        case idempotencyKey = "idempotency_key"
        case runId = "run_id"
        case requestedBy = "requested_by"
        case noCache = "no_cache"
        case retryOf = "retry_of"
        case retryFrom = "retry_from"
    }
}

/// Data of `run.cancel`: stop a run and every stage still going.
public struct RunCancel: Sendable, Hashable, Codable {
    /// The run to cancel.
    public var runId: UUID
    /// Why the run is cancelled, as the requester gave it.
    public var reason: String?
    /// Who asked for the cancellation.
    public var requestedBy: String?

    /// A cancellation of `runId`.
    public init(runId: UUID, reason: String? = nil, requestedBy: String? = nil) {
        self.runId = runId
        self.reason = reason
        self.requestedBy = requestedBy
    }

    enum CodingKeys: String, CodingKey {
        case reason
        case runId = "run_id"
        case requestedBy = "requested_by"
    }
}

/// Data of `stage.ready`: an attempt is queued for a worker of `pool`.
public struct StageReady: Sendable, Hashable, Codable {
    /// The run the attempt belongs to.
    public var runId: UUID
    /// The stage's name in the pipeline spec.
    public var stage: String
    /// The attempt's id.
    public var attemptId: UUID
    /// The 1-based attempt number of the stage in this run.
    public var attempt: Int
    /// The worker pool that should run the attempt.
    public var pool: String
    /// What kind of stage the attempt runs.
    public var kind: StageKind

    /// A `stage.ready` with the given fields.
    public init(runId: UUID, stage: String, attemptId: UUID, attempt: Int, pool: String, kind: StageKind) {
        self.runId = runId
        self.stage = stage
        self.attemptId = attemptId
        self.attempt = attempt
        self.pool = pool
        self.kind = kind
    }

    enum CodingKeys: String, CodingKey {
        case stage, attempt, pool, kind
        case runId = "run_id"
        case attemptId = "attempt_id"
    }
}

extension StageKind: Codable {}

/// Data of `stage.succeeded` and `stage.failed`: how one attempt ended.
public struct StageOutcome: Sendable, Hashable, Codable {
    /// The run the attempt belongs to.
    public var runId: UUID
    /// The stage's name in the pipeline spec.
    public var stage: String
    /// The attempt's id.
    public var attemptId: UUID
    /// The 1-based attempt number of the stage in this run.
    public var attempt: Int
    /// The attempt's final state.
    public var state: AttemptState
    /// A readable error, for failures.
    public var error: String?
    /// A machine-readable class of failure, e.g. `timeout`, `worker_lost`, `job_failed`.
    public var errorType: String?
    /// For `stage.cached`: the earlier attempt whose outputs this attempt reused.
    public var cachedFrom: UUID?

    /// An outcome with the given fields.
    public init(
        runId: UUID, stage: String, attemptId: UUID, attempt: Int, state: AttemptState, error: String? = nil,
        errorType: String? = nil, cachedFrom: UUID? = nil
    ) {
        self.runId = runId
        self.stage = stage
        self.attemptId = attemptId
        self.attempt = attempt
        self.state = state
        self.error = error
        self.errorType = errorType
        self.cachedFrom = cachedFrom
    }

    enum CodingKeys: String, CodingKey {
        case stage, attempt, state, error
        case runId = "run_id"
        case attemptId = "attempt_id"
        case errorType = "error_type"
        case cachedFrom = "cached_from"
    }
}

/// Data of `gate.passed` and `gate.failed`: a gate's decision with every value it read.
public struct GateDecided: Sendable, Hashable, Codable {
    /// The run the gate belongs to.
    public var runId: UUID
    /// The gate stage's name.
    public var stage: String
    /// The gate attempt's id.
    public var attemptId: UUID
    /// The 1-based attempt number of the gate stage in this run.
    public var attempt: Int
    /// The condition as written.
    public var condition: String
    /// Whether the condition held.
    public var passed: Bool
    /// Every reference of the condition -> its value (`null` when it had none).
    public var observed: [String: JSONValue]
    /// For `gate.failed`: the clauses that made the condition false, with their values.
    public var failedClause: String?
    /// The model whose `champion` the condition compared against, when it reads one.
    public var model: String?
    /// That champion's version; `nil` when the model had no champion.
    public var championVersion: Int?

    /// A gate decision with the given fields.
    public init(
        runId: UUID, stage: String, attemptId: UUID, attempt: Int, condition: String, passed: Bool,
        observed: [String: JSONValue], failedClause: String? = nil, model: String? = nil, championVersion: Int? = nil
    ) {
        self.runId = runId
        self.stage = stage
        self.attemptId = attemptId
        self.attempt = attempt
        self.condition = condition
        self.passed = passed
        self.observed = observed
        self.failedClause = failedClause
        self.model = model
        self.championVersion = championVersion
    }

    enum CodingKeys: String, CodingKey {
        case stage, attempt, condition, passed, observed, model
        case runId = "run_id"
        case attemptId = "attempt_id"
        case failedClause = "failed_clause"
        case championVersion = "champion_version"
    }
}

/// Data of the run-level events (`run.started`, `run.succeeded`, `run.failed`, `run.cancelled`,
/// `run.rejected_by_gate`, `run.rejected`) and of `stage.skipped`.
public struct RunNotice: Sendable, Hashable, Codable {
    /// The run the event is about; nil for a request rejected before it had a run id.
    public var runId: UUID?
    /// The run's new state (e.g. `running`, `failed`, `rejected`), or `skipped` for `stage.skipped`.
    public var state: String
    /// The pipeline's name, when the event carries it.
    public var pipeline: String?
    /// For `stage.skipped`: the stage that was skipped.
    public var stage: String?
    /// Why the run ended, was rejected or the stage skipped; nil when there is nothing to explain.
    public var reason: String?
    /// For `run.rejected`: the id of the request that was rejected.
    public var requestId: String?

    /// A notice with the given fields.
    public init(
        runId: UUID?, state: String, pipeline: String? = nil, stage: String? = nil, reason: String? = nil,
        requestId: String? = nil
    ) {
        self.runId = runId
        self.state = state
        self.pipeline = pipeline
        self.stage = stage
        self.reason = reason
        self.requestId = requestId
    }

    enum CodingKeys: String, CodingKey {
        case state, pipeline, stage, reason
        case runId = "run_id"
        case requestId = "request_id"
    }
}

/// Data of `model.registered`: a `register` stage made a version of a model from an upstream
/// stage's output.
public struct ModelRegistered: Sendable, Hashable, Codable {
    /// The registered model's name.
    public var model: String
    /// The version number, from 1 per model, without gaps.
    public var version: Int
    /// The run whose `register` stage made the version.
    public var runId: UUID
    /// The `register` stage and its attempt that made the version.
    public var stage: String
    /// The id of the `register` stage's attempt.
    public var attemptId: UUID
    /// The registered artifact.
    public var artifactUri: String
    /// MD5 of the registered artifact as the job reported it; nil when it reported none.
    public var artifactMd5: String?
    /// The alias the registration moved to the version.
    public var alias: String

    /// A registration with the given fields.
    public init(
        model: String, version: Int, runId: UUID, stage: String, attemptId: UUID, artifactUri: String,
        artifactMd5: String?, alias: String
    ) {
        self.model = model
        self.version = version
        self.runId = runId
        self.stage = stage
        self.attemptId = attemptId
        self.artifactUri = artifactUri
        self.artifactMd5 = artifactMd5
        self.alias = alias
    }

    enum CodingKeys: String, CodingKey {
        case model, version, stage, alias
        case runId = "run_id"
        case attemptId = "attempt_id"
        case artifactUri = "artifact_uri"
        case artifactMd5 = "artifact_md5"
    }
}

/// How a model alias moved.
public enum ModelAliasMove: String, Sendable, Hashable, Codable, CaseIterable {
    /// A `register` stage pointed the alias at the version it made.
    case register
    /// Someone (or a rollout) pointed the alias at a chosen version.
    case promote
    /// The alias went back to where it pointed before the move being undone (or was removed).
    case rollback
}

/// Data of `model.promoted`: a model alias moved, with who moved it and why.
public struct ModelPromoted: Sendable, Hashable, Codable {
    /// The model whose alias moved.
    public var model: String
    /// The alias that moved, e.g. `champion`.
    public var alias: String
    /// Where the alias pointed before; `nil` when it is new.
    public var fromVersion: Int?
    /// Where it points now; `nil` when a rollback removed it.
    public var toVersion: Int?
    /// What kind of move it was.
    public var move: ModelAliasMove
    /// Who moved it: `baton/<run id>` for the engine, a user name for the CLI.
    public var actor: String
    /// Why the alias moved, as the actor gave it; nil when none was given.
    public var reason: String?
    /// The run that moved it, for moves made by the engine.
    public var runId: UUID?

    /// A promotion with the given fields.
    public init(
        model: String, alias: String, fromVersion: Int?, toVersion: Int?, move: ModelAliasMove, actor: String,
        reason: String?, runId: UUID?
    ) {
        self.model = model
        self.alias = alias
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.move = move
        self.actor = actor
        self.reason = reason
        self.runId = runId
    }

    enum CodingKeys: String, CodingKey {
        case model, alias, move, actor, reason
        case fromVersion = "from_version"
        case toVersion = "to_version"
        case runId = "run_id"
    }
}

/// Data of `model.restored`: the sweeper found that the platform a rollout put a model's champion
/// on no longer served it (Ray Serve's applications replaced or lost) and deployed it again.
public struct ModelRestored: Sendable, Hashable, Codable {
    /// The model whose champion was deployed again.
    public var model: String
    /// The champion's version, now serving all traffic again.
    public var version: Int
    /// The artifact the platform loads the version from.
    public var artifactUri: String
    /// The rollout target that serves it, e.g. `ray-serve`.
    public var target: String
    /// What the platform was missing, e.g. `router application missing`.
    public var reason: String

    /// A restore with the given fields.
    public init(model: String, version: Int, artifactUri: String, target: String, reason: String) {
        self.model = model
        self.version = version
        self.artifactUri = artifactUri
        self.target = target
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case model, version, target, reason
        case artifactUri = "artifact_uri"
    }
}

/// Data of `rollout.step`: one step of a rollout stage, as it ran.
public struct RolloutStepped: Sendable, Hashable, Codable {
    /// The run the rollout stage belongs to.
    public var runId: UUID
    /// The rollout stage's name.
    public var stage: String
    /// The rollout attempt's id.
    public var attemptId: UUID
    /// The model being rolled out.
    public var model: String
    /// The version the rollout brings in.
    public var candidateVersion: Int
    /// The version serving before the rollout (`champion`); `nil` for a model's first rollout.
    public var stableVersion: Int?
    /// The 0-based index of the step.
    public var index: Int
    /// `setWeight`, `pause` or `analysis`.
    public var kind: String
    /// The candidate's share of traffic (0-100) after the step.
    public var weight: Int
    /// `succeeded` or `failed`.
    public var phase: String
    /// For analysis: the last value of each metric measured.
    public var measurements: [String: Double]
    /// Why the step failed, with the failing measurement and its condition.
    public var message: String?

    /// A rollout step with the given fields.
    public init(
        runId: UUID, stage: String, attemptId: UUID, model: String, candidateVersion: Int, stableVersion: Int?,
        index: Int, kind: String, weight: Int, phase: String, measurements: [String: Double], message: String?
    ) {
        self.runId = runId
        self.stage = stage
        self.attemptId = attemptId
        self.model = model
        self.candidateVersion = candidateVersion
        self.stableVersion = stableVersion
        self.index = index
        self.kind = kind
        self.weight = weight
        self.phase = phase
        self.measurements = measurements
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case stage, model, index, kind, weight, phase, measurements, message
        case runId = "run_id"
        case attemptId = "attempt_id"
        case candidateVersion = "candidate_version"
        case stableVersion = "stable_version"
    }
}

/// Data of `rollout.succeeded` and `rollout.aborted`: how a rollout stage ended.
public struct RolloutEnded: Sendable, Hashable, Codable {
    /// The run the rollout stage belongs to.
    public var runId: UUID
    /// The rollout stage's name.
    public var stage: String
    /// The rollout attempt's id.
    public var attemptId: UUID
    /// The model that was rolled out.
    public var model: String
    /// The version the rollout brought in.
    public var candidateVersion: Int
    /// The version serving before the rollout; `nil` for a model's first rollout.
    public var stableVersion: Int?
    /// `ray-serve` or `argo`.
    public var target: String
    /// For `rollout.aborted`: the failing step and measurement.
    public var reason: String?

    /// A rollout ending with the given fields.
    public init(
        runId: UUID, stage: String, attemptId: UUID, model: String, candidateVersion: Int, stableVersion: Int?,
        target: String, reason: String?
    ) {
        self.runId = runId
        self.stage = stage
        self.attemptId = attemptId
        self.model = model
        self.candidateVersion = candidateVersion
        self.stableVersion = stableVersion
        self.target = target
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case stage, model, target, reason
        case runId = "run_id"
        case attemptId = "attempt_id"
        case candidateVersion = "candidate_version"
        case stableVersion = "stable_version"
    }
}
