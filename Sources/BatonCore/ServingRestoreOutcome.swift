/// What ``RolloutDriver/restoreServing(champion:)`` found on the platform, and did.
public enum ServingRestoreOutcome: Sendable, Hashable {
    /// The platform serves the champion as the last rollout left it: nothing was changed.
    case alreadyServing
    /// The platform had lost the champion's serving (`reason` says what was missing) and it was
    /// deployed again, alone, with all traffic.
    case restored(reason: String)
    /// The platform serves the model in a way the driver must not undo (another version, a canary's
    /// split; `reason` says which), and nothing is missing: left as it is.
    case leftAlone(reason: String)

    /// The outcome as a metric label: `already_serving`, `restored` or `left_alone`.
    public var label: String {
        switch self {
        case .alreadyServing: "already_serving"
        case .restored: "restored"
        case .leftAlone: "left_alone"
        }
    }
}
