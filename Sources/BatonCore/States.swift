/// The state of a run. Terminal states never change again.
public enum RunState: String, Sendable, Hashable, Codable, CaseIterable {
    case running, succeeded, failed, cancelled
    /// A gate's condition was false: nothing broke, the model was not good enough. The stages
    /// after the gate were skipped, so nothing was registered or rolled out.
    case rejectedByGate = "rejected_by_gate"

    /// Whether the run has ended.
    public var isTerminal: Bool { self != .running }
}

/// The state of one stage of a run.
public enum StageState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for the stages it needs.
    case pending
    /// An attempt is queued (possibly for a later time, after a backoff).
    case ready
    /// An attempt is running.
    case running
    case succeeded, failed, skipped, cancelled
    /// A gate stage whose condition was false.
    case rejected

    /// Whether the stage has ended.
    public var isTerminal: Bool { [.succeeded, .failed, .skipped, .cancelled, .rejected].contains(self) }

    /// Whether stages that need this one may start.
    public var satisfiesDependents: Bool { self == .succeeded || self == .skipped }

    /// Legal moves; the database enforces the same table.
    public func canMove(to next: StageState) -> Bool {
        switch (self, next) {
        case (.pending, .ready), (.pending, .skipped), (.pending, .cancelled): true
        case (.ready, .running), (.ready, .cancelled): true
        case (.running, .succeeded), (.running, .failed), (.running, .ready), (.running, .cancelled),
            (.running, .rejected):
            true
        default: false
        }
    }
}

/// The state of one attempt of a stage.
public enum AttemptState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Created, waiting for a worker to claim it.
    case queued
    /// Claimed under a lease; executing.
    case running
    case succeeded, failed
    /// Stopped because it ran past the stage timeout.
    case timedOut = "timed_out"
    case cancelled
    /// Its worker vanished (lease expired); a new attempt takes over.
    case lost
    /// A gate attempt whose condition was false (never retried).
    case rejected

    /// Whether the attempt has ended.
    public var isTerminal: Bool { self != .queued && self != .running }

    /// Legal moves; the database enforces the same table.
    public func canMove(to next: AttemptState) -> Bool {
        switch (self, next) {
        case (.queued, .running), (.queued, .cancelled): true
        case (.running, .succeeded), (.running, .failed), (.running, .timedOut), (.running, .cancelled),
            (.running, .lost), (.running, .rejected):
            true
        default: false
        }
    }
}
