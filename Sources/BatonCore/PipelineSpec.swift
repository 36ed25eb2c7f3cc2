/// A validated pipeline: `apiVersion: baton/v1`, `kind: Pipeline`.
///
/// Build one with `PipelineSpecParser.parse(_:)`; a value of this type has passed every
/// check (names, references, durations, the DAG has no cycle), so the engine can trust it.
public struct PipelineSpec: Sendable, Hashable {
    /// The pipeline's name (`metadata.name`).
    public var name: String
    /// Free text from `metadata.description`.
    public var description: String?
    /// Declared params, by name.
    public var params: [String: ParamSpec]
    /// Stages in the order the file lists them.
    public var stages: [StageSpec]
    /// The DAG over `stages`.
    public var graph: StageGraph
    /// Alerts that start a run of this pipeline (`triggers:`).
    public var triggers: [AlertTrigger] = []
    /// Who is told of the runs' events (`notify:`).
    public var notify: [NotificationTarget] = []

    /// The stage with the given name.
    public func stage(named name: String) -> StageSpec? {
        stages.first { $0.name == name }
    }
}

/// The type of a pipeline param.
public enum ParamType: String, Sendable, Hashable, CaseIterable {
    case string, integer, number, boolean, object, array
}

/// A declared param: its type, an optional default and optional allowed values.
public struct ParamSpec: Sendable, Hashable {
    /// The JSON type a value must have.
    public var type: ParamType
    /// The value used when a request does not set the param; a param without default is required.
    public var defaultValue: JSONValue?
    /// When non-empty, the only values the param may take.
    public var allowed: [JSONValue]
    /// Free text from the param's `description`.
    public var description: String?

    /// A declared param.
    public init(type: ParamType, defaultValue: JSONValue? = nil, allowed: [JSONValue] = [], description: String? = nil)
    {
        self.type = type
        self.defaultValue = defaultValue
        self.allowed = allowed
        self.description = description
    }
}

/// What executes a stage.
public enum StageKind: String, Sendable, Hashable, CaseIterable {
    /// A Ray job (Ray Jobs API or a KubeRay RayJob).
    case ray
    /// An evaluation gate, executed by the engine.
    case gate
    /// Model-registry registration, executed by the engine.
    case register
    /// Canary rollout, executed by the engine.
    case rollout
    /// Does nothing but succeed (or sleep, or fail on purpose): for dry runs and tests.
    case noop
}

/// One stage of a pipeline.
public struct StageSpec: Sendable, Hashable {
    /// The stage's name, unique in its pipeline.
    public var name: String
    /// Stages that must finish first.
    public var needs: [String]
    /// The worker pool whose topic carries this stage's `stage.ready` events.
    public var pool: String
    /// How often, and after what backoff, a failed attempt is retried.
    public var retry: RetryPolicy
    /// The longest one attempt may run before it is stopped and counted as `timed_out`.
    public var timeout: Duration
    /// When set, the stage runs only if this evaluates to true; otherwise it is `skipped`.
    public var when: Expression?
    /// The `when` text as written.
    public var whenSource: String?
    /// Stage-level params (merged over the run's params for the job).
    public var params: [String: JSONValue]
    /// Named inputs: references such as `params.corpus` or `stages.preprocess.outputs.dataset`.
    public var inputs: [String: String]
    /// Names of the outputs the stage promises.
    public var outputs: [String]
    /// What the stage does: the settings of its kind, read and checked with the spec.
    public var body: StageBody
    /// Whether a succeeded attempt with the same fingerprint may stand in for running the stage
    /// (`cache:`; default on for `ray` stages; the other kinds are never cached).
    public var cache: Bool
    /// The run params the stage reads (`uses:`); `nil` means all of them. Only these reach the
    /// job and enter its fingerprint, so changing another param does not re-run the stage.
    public var uses: [String]?

    /// What executes the stage: the kind of its ``body``.
    public var kind: StageKind { body.kind }

    /// The params the stage's job receives: the run's (those in `uses`, when given) with the
    /// stage's own params over them.
    public func jobParams(run: [String: JSONValue]) -> [String: JSONValue] {
        let visible = uses.map { names in run.filter { names.contains($0.key) } } ?? run
        return visible.merging(params) { $1 }
    }
}

/// Ray settings of a stage: `ray: {entrypoint, runtime_env, resources}` of the spec.
public struct RayStageSpec: Sendable, Hashable {
    /// The shell command Ray runs for the job, as written.
    public var entrypoint: String
    /// `runtime_env` as written (working_dir, pip, env_vars, ...).
    public var runtimeEnv: [String: JSONValue]
    /// What the entrypoint asks Ray for.
    public var resources: ResourceSpec

    /// A stage's Ray settings.
    public init(entrypoint: String, runtimeEnv: [String: JSONValue] = [:], resources: ResourceSpec = ResourceSpec()) {
        self.entrypoint = entrypoint
        self.runtimeEnv = runtimeEnv
        self.resources = resources
    }
}

/// Resources requested for a stage's entrypoint.
public struct ResourceSpec: Sendable, Hashable {
    /// CPUs for the entrypoint; `nil` leaves Ray's default.
    public var cpus: Double?
    /// GPUs for the entrypoint; `nil` means none.
    public var gpus: Double?
    /// Memory in bytes.
    public var memory: Int64?
    /// Custom Ray resources by name.
    public var custom: [String: Double]

    /// Resources, each unset by default.
    public init(cpus: Double? = nil, gpus: Double? = nil, memory: Int64? = nil, custom: [String: Double] = [:]) {
        self.cpus = cpus
        self.gpus = gpus
        self.memory = memory
        self.custom = custom
    }
}

/// What a `noop` stage does: by default nothing; tests use `sleep`, `fail_attempts` and `metrics`.
public struct NoopStageSpec: Sendable, Hashable {
    /// How long the stage pretends to work. Default: zero.
    public var sleep: Duration = .zero
    /// The first this-many attempts fail on purpose. Default: 0.
    public var failAttempts: Int = 0
    /// Metrics a succeeded attempt reports (at step 0), as a job would: for dry runs of gates.
    /// Default: none.
    public var metrics: [String: Double] = [:]

    /// A noop stage's behaviour; by default it succeeds at once.
    public init(sleep: Duration = .zero, failAttempts: Int = 0, metrics: [String: Double] = [:]) {
        self.sleep = sleep
        self.failAttempts = failAttempts
        self.metrics = metrics
    }
}
