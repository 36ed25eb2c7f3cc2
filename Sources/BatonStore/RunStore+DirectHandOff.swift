import BatonCore
import Foundation
import PostgresNIO

extension RunStore {
    /// Applies the outcome of an attempt that has just ended, as `consumer` (the coordinator)
    /// applies it when the outcome's event arrives: the same transaction (``handleOutcome(consumer:event:outcome:)``,
    /// the run locked, the outcome checked against the database), recorded in the inbox as
    /// `<attempt id>/outcome`. The event itself is still published and handled; by then the stage
    /// is no longer running, so its handling changes nothing (``RunPlanner/apply(_:states:countedAttempts:lostAttempts:)``
    /// ignores an outcome of a stage that is not running, and a retried attempt is no longer the
    /// stage's latest), and the coordinator skips it at once (``outcomeApplied(_:outcome:consumer:)``).
    ///
    /// Only an end this worker wrote is applied: `outcome` is what its own finishing write
    /// recorded and returned (``AttemptStore/finishAttempt(_:state:error:errorType:report:)``,
    /// the registry's gate, register and rollout writes), so no read of the attempt comes before
    /// the transaction. An end another writer set (the sweeper's `lost`, after this worker's
    /// lease ran out) is left to its own event.
    ///
    /// - Returns: the attempts in `pool` the outcome queued that are due now (no backoff), in the
    ///   planner's order: what the caller may claim at once (their `stage.ready` events then find
    ///   them claimed); empty when the outcome is no longer the stage's latest or changed nothing.
    public func applyOutcome(_ outcome: StageOutcome, consumer: String, pool: String) async throws
        -> [QueuedAttempt]
    {
        precondition(outcome.state.isTerminal, "applyOutcome needs an ended attempt's outcome")
        var event = try runEvent(
            EventType.outcome(of: outcome.state, cached: false), runID: outcome.runId, stage: outcome.stage,
            payload: outcome)
        event.id = Self.directHandOffEventID(outcome.attemptId)
        let planned = try await applyOutcome(consumer: consumer, event: event, outcome: outcome) ?? []
        return planned.filter { $0.pool == pool && $0.delay <= .zero }.map(\.attempt)
    }

    /// Whether the worker that wrote `event` (an attempt's outcome) already applied it
    /// (``applyOutcome(_:consumer:pool:)``): one indexed read, so the coordinator can
    /// leave the event at that without a transaction. A worker that died before applying it left
    /// no such record, and the event is applied in full.
    public func outcomeApplied(_ event: CloudEvent, outcome: StageOutcome, consumer: String) async throws -> Bool {
        let key = Self.inboxEventID(source: event.source, id: Self.directHandOffEventID(outcome.attemptId))
        let rows = try await client.statement(
            "SELECT 1 FROM inbox WHERE consumer = \(consumer) AND event_id = \(key)", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// The id under which a worker records its own application of an attempt's outcome.
    static func directHandOffEventID(_ attemptID: UUID) -> String { "\(attemptID.lowercased)/outcome" }
}
