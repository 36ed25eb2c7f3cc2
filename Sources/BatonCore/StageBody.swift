/// What a stage does: the settings of its kind, read and checked once, when the spec is read.
///
/// A validated spec's stages always carry the body of their kind, so nothing downstream reads a
/// stage's settings from JSON again. Settings of another kind that a stage also carries (a
/// `noop:` on a `ray` stage, say) are checked as JSON when the spec is read and then ignored.
public enum StageBody: Sendable, Hashable {
    /// A Ray job: `ray:`.
    case ray(RayStageSpec)
    /// An evaluation gate: `gate:`.
    case gate(GateSpec)
    /// A model-registry registration: `register:`.
    case register(RegisterSpec)
    /// A canary rollout: `rollout:`.
    case rollout(RolloutSpec)
    /// A stage that succeeds, sleeps or fails on purpose: `noop:` (optional).
    case noop(NoopStageSpec)

    /// The kind of stage the body belongs to.
    public var kind: StageKind {
        switch self {
        case .ray: .ray
        case .gate: .gate
        case .register: .register
        case .rollout: .rollout
        case .noop: .noop
        }
    }
}

extension StageSpec {
    /// The Ray settings of a `ray` stage; `nil` for the other kinds.
    public var ray: RayStageSpec? {
        if case .ray(let ray) = body { ray } else { nil }
    }

    /// The condition of a `gate` stage; `nil` for the other kinds.
    public var gate: GateSpec? {
        if case .gate(let gate) = body { gate } else { nil }
    }

    /// What a `register` stage registers; `nil` for the other kinds.
    public var register: RegisterSpec? {
        if case .register(let register) = body { register } else { nil }
    }

    /// The target and steps of a `rollout` stage; `nil` for the other kinds.
    public var rollout: RolloutSpec? {
        if case .rollout(let rollout) = body { rollout } else { nil }
    }

    /// The behaviour of a `noop` stage; `nil` for the other kinds.
    public var noop: NoopStageSpec? {
        if case .noop(let noop) = body { noop } else { nil }
    }
}
