import Foundation

/// A queued attempt as a `stage.ready` event names it: what a worker claims.
public struct QueuedAttempt: Sendable, Hashable {
    /// The attempt's id.
    public var id: UUID
    /// The run it belongs to.
    public var runID: UUID
    /// Its stage's name.
    public var stage: String
    /// Its 1-based number among the stage's attempts.
    public var attempt: Int

    /// An attempt with the given identity.
    public init(id: UUID, runID: UUID, stage: String, attempt: Int) {
        self.id = id
        self.runID = runID
        self.stage = stage
        self.attempt = attempt
    }
}
