import BatonCore
import Foundation
import PostgresNIO

/// A worker taking the next attempt of its pool in the transaction that applies the outcome
/// before it (``RunStore/applyOutcome(_:consumer:claimingFor:pool:lease:)``).
struct DirectClaimant: Sendable, Hashable {
    /// The lease owner written on the attempt (the worker's instance id).
    var owner: String
    /// The pool the worker serves: only an attempt of this pool is claimed.
    var pool: String
    /// How long the lease lasts before the worker must renew it.
    var lease: Duration
}

extension RunStore {
    /// Applies the outcome of an attempt that has just ended, as `consumer` (the coordinator)
    /// applies it when the outcome's event arrives: the same transaction (``handleOutcome(consumer:event:outcome:)``,
    /// the run locked, the outcome checked against the database), recorded in the inbox as
    /// `<attempt id>/outcome`. The event itself is still published and handled; by then the stage
    /// is no longer running, so its handling changes nothing (``RunPlanner/apply(_:states:countedAttempts:lostAttempts:)``
    /// ignores an outcome of a stage that is not running, and a retried attempt is no longer the
    /// stage's latest), and the coordinator skips it at once (``outcomeApplied(_:outcome:consumer:)``).
    ///
    /// The first attempt the outcome queues in `pool` and due at once (no backoff) is claimed for
    /// `owner`, with a lease of `lease`, in the same transaction, as ``AttemptStore/claimAttempt(_:owner:lease:)``
    /// claims: running, leased, its stage running and its `stage.started` written. It gets no
    /// `stage.ready` event (nobody else is to claim it); a claimant that dies before executing it
    /// leaves a leased attempt, which the sweeper takes back when the lease runs out. Other
    /// attempts the outcome queues get their `stage.ready` as the coordinator writes them.
    ///
    /// Only an end this worker wrote is applied: `outcome` is what its own finishing write
    /// recorded and returned (``AttemptStore/finishAttempt(_:state:error:errorType:report:countingExecution:)``,
    /// the registry's gate, register and rollout writes), so no read of the attempt comes before
    /// the transaction. An end another writer set (the sweeper's `lost`, after this worker's
    /// lease ran out) is left to its own event.
    ///
    /// - Returns: the attempt claimed for `owner`; `nil` when the outcome queued none in `pool` due
    ///   now, is no longer the stage's latest, or changed nothing.
    public func applyOutcome(
        _ outcome: StageOutcome, consumer: String, claimingFor owner: String, pool: String, lease: Duration
    ) async throws -> ClaimedAttempt? {
        precondition(outcome.state.isTerminal, "applyOutcome needs an ended attempt's outcome")
        var event = try runEvent(
            EventType.outcome(of: outcome.state, cached: false), runID: outcome.runId, stage: outcome.stage,
            payload: outcome)
        event.id = Self.directHandOffEventID(outcome.attemptId)
        let claimant = DirectClaimant(owner: owner, pool: pool, lease: lease)
        return try await applyOutcome(consumer: consumer, event: event, outcome: outcome, claimant: claimant)?.claimed
    }

    /// Ends an attempt as ``AttemptStore/finishAttempt(_:state:error:errorType:report:countingExecution:)``
    /// does and applies its outcome as ``applyOutcome(_:consumer:claimingFor:pool:lease:)`` does, in
    /// one transaction: the run is locked first (as every transaction that applies an event to a
    /// run locks it), then the attempt is ended, fenced by its epoch, then its outcome applied and
    /// the next attempt of `pool` claimed for `owner`. One commit where the two steps took two,
    /// and the next attempt starts in the transaction that ends the one before.
    ///
    /// When the run is not running any more (cancelled meanwhile: the attempt is then fenced out
    /// too) or the outcome was recorded as applied before, nothing of the transaction stays and
    /// the attempt is ended on its own, as ``AttemptStore/finishAttempt(_:state:error:errorType:report:countingExecution:)``
    /// ends it.
    ///
    /// - Returns: the outcome recorded and the attempt claimed, if any; `nil` when the end was
    ///   fenced out: nothing was written then.
    public func finishAndApplyOutcome(
        _ claim: ClaimedAttempt, state: AttemptState, error: String? = nil, errorType: String? = nil,
        report: AttemptReport? = nil, countingExecution: Bool = false, consumer: String,
        claimingFor owner: String, pool: String, lease: Duration
    ) async throws -> FinishedAttempt? {
        let (finish, outcome) = try finishingWrite(
            claim, state: state, error: error, errorType: errorType, report: report,
            countingExecution: countingExecution)
        var event = try runEvent(
            EventType.outcome(of: state, cached: false), runID: claim.runID, stage: claim.stage, payload: outcome)
        event.id = Self.directHandOffEventID(claim.id)
        let claimant = DirectClaimant(owner: owner, pool: pool, lease: lease)
        do {
            return try await transaction { connection in
                let (recorded, run) = try await claimInboxAndLockRun(
                    claim.runID, consumer: consumer, eventID: Self.inboxEventID(event), eventType: event.type,
                    on: connection)
                guard recorded, let run, run.state == .running else { throw HandOffRollback.notApplicable }
                guard try await wroteOne(finish, on: connection) else { throw HandOffRollback.fencedOut }
                let applied = try await apply(
                    outcome, of: run, consumer: consumer, event: event, claimant: claimant, on: connection)
                return FinishedAttempt(outcome: outcome, next: applied?.claimed)
            }
        } catch HandOffRollback.fencedOut {
            return nil
        } catch HandOffRollback.notApplicable {
            return try await wroteOne(finish) ? FinishedAttempt(outcome: outcome, next: nil) : nil
        }
    }

    /// Whether the worker that wrote `event` (an attempt's outcome) already applied it
    /// (``applyOutcome(_:consumer:claimingFor:pool:lease:)``): one indexed read, so the coordinator can
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

/// An attempt ended in the direct hand-off's transaction
/// (``RunStore/finishAndApplyOutcome(_:state:error:errorType:report:countingExecution:consumer:claimingFor:pool:lease:)``).
public struct FinishedAttempt: Sendable {
    /// The outcome recorded (its event's payload).
    public var outcome: StageOutcome
    /// The next attempt of the worker's pool, claimed for it in the same transaction, if any.
    public var next: ClaimedAttempt?
}

/// Why the direct hand-off's transaction was rolled back on purpose.
private enum HandOffRollback: Error {
    /// The attempt's end was fenced out: nothing is to be written.
    case fencedOut
    /// The run is not running, or the outcome was applied before: the end is written alone.
    case notApplicable
}
