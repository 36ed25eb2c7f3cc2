/// The `ce_type` of every event Baton produces or consumes.
public enum EventType: String, Sendable, Hashable, CaseIterable, Codable {
    case pipelineRequested = "pipeline.requested"
    case runCancel = "run.cancel"
    case runStarted = "run.started"
    case runRejected = "run.rejected"
    case runSucceeded = "run.succeeded"
    case runFailed = "run.failed"
    case runCancelled = "run.cancelled"
    /// A gate's condition was false: the run ended `rejected_by_gate` (not a failure).
    case runRejectedByGate = "run.rejected_by_gate"
    case stageReady = "stage.ready"
    case stageStarted = "stage.started"
    case stageSucceeded = "stage.succeeded"
    /// An attempt succeeded without running: a cache hit reused an earlier attempt's outputs.
    case stageCached = "stage.cached"
    case stageFailed = "stage.failed"
    case stageSkipped = "stage.skipped"
    /// A gate's condition held; the data has every value it read.
    case gatePassed = "gate.passed"
    /// A gate's condition was false; the data names the failing clause with its values.
    case gateFailed = "gate.failed"
    /// A `register` stage made a model version.
    case modelRegistered = "model.registered"
    /// A model alias moved: by a registration, `baton models promote|rollback`, or a rollout.
    case modelPromoted = "model.promoted"
    /// The sweeper deployed a model's champion again on a platform that had lost it.
    case modelRestored = "model.restored"
    /// A rollout step ran (setWeight, pause or analysis), with the candidate's weight after it.
    case rolloutStep = "rollout.step"
    /// A rollout ended with the candidate serving all traffic; it is now `champion`.
    case rolloutSucceeded = "rollout.succeeded"
    /// A rollout failed a step: traffic is back on the stable version and the alias reverted.
    case rolloutAborted = "rollout.aborted"

    /// The event that reports an ended attempt: `stage.cached` for a cache hit,
    /// `stage.succeeded`, or `stage.failed` (for failed, timed-out, lost and rejected attempts;
    /// the `state` field tells them apart).
    public static func outcome(of state: AttemptState, cached: Bool) -> EventType {
        state == .succeeded ? (cached ? .stageCached : .stageSucceeded) : .stageFailed
    }
}

/// Topic names, configurable as a whole. Defaults follow the design document.
public struct EventTopics: Sendable, Hashable {
    /// Requests that start runs. Default: `baton.pipeline.requested`.
    public var requested = "baton.pipeline.requested"
    /// Run and stage lifecycle events, keyed by run id. Default: `baton.run.events`.
    public var runEvents = "baton.run.events"
    /// Poison messages with their origin and error. Default: `baton.dlq`.
    public var deadLetters = "baton.dlq"
    /// Prefix of the per-pool `stage.ready` topics. Default: `baton.stage.ready.`.
    public var stageReadyPrefix = "baton.stage.ready."

    /// The default topic names.
    public init() {}

    /// Topic names under another prefix: `<prefix>.pipeline.requested`, `<prefix>.run.events`,
    /// `<prefix>.dlq` and `<prefix>.stage.ready.<pool>`.
    public init(prefix: String) {
        requested = "\(prefix).pipeline.requested"
        runEvents = "\(prefix).run.events"
        deadLetters = "\(prefix).dlq"
        stageReadyPrefix = "\(prefix).stage.ready."
    }

    /// The `stage.ready` topic of a pool.
    public func stageReady(pool: String) -> String { stageReadyPrefix + pool }
}
