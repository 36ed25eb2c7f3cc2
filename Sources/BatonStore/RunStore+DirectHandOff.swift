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
    /// Only an end this worker wrote is applied: `claim`'s fencing epoch must still be the
    /// attempt's. One another writer set (the sweeper's `lost`, after this worker's lease ran
    /// out, bumps the epoch) is left to its own event.
    ///
    /// - Returns: the attempts in `pool` the outcome queued that are due now (no backoff), in the
    ///   planner's order: what the caller may claim at once (their `stage.ready` events then find
    ///   them claimed); empty when the attempt has not ended, was ended by another writer, or the
    ///   outcome changed nothing.
    public func applyOutcome(of claim: ClaimedAttempt, consumer: String, pool: String) async throws
        -> [QueuedAttempt]
    {
        let attemptID = claim.id
        let rows = try await client.statement(
            """
            SELECT run_id, stage, attempt, state, error, error_type FROM stage_attempts
            WHERE id = \(attemptID) AND lease_epoch = \(claim.epoch)
            """, logger: logger)
        var ended: StageOutcome?
        for try await (runID, stage, attempt, state, error, errorType) in rows.decode(
            (UUID, String, Int, String, String?, String?).self)
        {
            guard let state = AttemptState(rawValue: state), state.isTerminal else { break }
            ended = StageOutcome(
                runId: runID, stage: stage, attemptId: attemptID, attempt: attempt, state: state, error: error,
                errorType: errorType)
        }
        guard let outcome = ended else { return [] }
        var event = try runEvent(
            EventType.outcome(of: outcome.state, cached: false), runID: outcome.runId, stage: outcome.stage,
            payload: outcome)
        event.id = Self.directHandOffEventID(attemptID)
        let planned = try await applyOutcome(consumer: consumer, event: event, outcome: outcome) ?? []
        return planned.filter { $0.pool == pool && $0.delay <= .zero }.map(\.attempt)
    }

    /// Whether the worker that wrote `event` (an attempt's outcome) already applied it
    /// (``applyOutcome(of:consumer:pool:)``): one indexed read, so the coordinator can
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
