import BatonCore
import Foundation
import PostgresNIO

extension RunStore {
    /// Handles `stage.succeeded` / `stage.failed` in one transaction: dedupe, check the outcome
    /// is the stage's current attempt, then retry, unlock dependents or finish the run.
    ///
    /// - Returns: whether the outcome changed the run (false for redeliveries and stale outcomes).
    @discardableResult
    public func handleOutcome(consumer: String, event: CloudEvent, outcome: StageOutcome) async throws -> Bool {
        try await applyOutcome(consumer: consumer, event: event, outcome: outcome) != nil
    }

    /// ``handleOutcome(consumer:event:outcome:)``'s transaction; with a `claimant`, the first
    /// attempt it queues in the claimant's pool and due at once is claimed for it in the same
    /// transaction.
    ///
    /// - Returns: what the outcome changed; `nil` when it changed nothing.
    func applyOutcome(
        consumer: String, event: CloudEvent, outcome: StageOutcome, claimant: DirectClaimant? = nil
    ) async throws -> AppliedOutcome? {
        let applied = try await withRunningRun(outcome.runId, consumer: consumer, event: event) { run, connection in
            try await apply(outcome, of: run, consumer: consumer, event: event, claimant: claimant, on: connection)
        }
        return applied ?? nil
    }

    /// The body of ``applyOutcome(consumer:event:outcome:claimant:)``'s transaction, once the run is
    /// locked and the event recorded in the inbox.
    func apply(
        _ outcome: StageOutcome, of run: LockedRun, consumer: String, event: CloudEvent, claimant: DirectClaimant?,
        on connection: DatabaseSession
    ) async throws -> AppliedOutcome? {
        // Trust the database, not the event: the attempt must have ended in the state the event says,
        // and be the stage's latest attempt. The same statement reads what the planner needs: the
        // stage's attempts for the retry policy and every stage's state (one round trip, not three,
        // on every hand-off).
        let rows = try await connection.query(
            """
            SELECT a.state, s.attempts, n.counted, n.lost, r.names, r.states
            FROM stage_attempts a JOIN stages s ON s.run_id = a.run_id AND s.name = a.stage
            CROSS JOIN LATERAL (
                SELECT count(*) FILTER (WHERE c.state IN ('succeeded', 'failed', 'timed_out')) AS counted,
                       count(*) FILTER (WHERE c.state = 'lost') AS lost
                FROM stage_attempts c WHERE c.run_id = a.run_id AND c.stage = a.stage) n
            CROSS JOIN LATERAL (
                SELECT array_agg(t.name ORDER BY t.name) AS names, array_agg(t.state ORDER BY t.name) AS states
                FROM stages t WHERE t.run_id = a.run_id) r
            WHERE a.id = \(outcome.attemptId) AND a.run_id = \(outcome.runId) AND a.stage = \(outcome.stage)
            """, logger: logger)
        var isCurrent = false
        var counted = 0
        var lost = 0
        var stageStates: [String: StageState] = [:]
        for try await (state, latest, countedRows, lostRows, names, states) in rows.decode(
            (String, Int, Int, Int, [String], [String]).self)
        {
            isCurrent = state == outcome.state.rawValue && latest == outcome.attempt
            counted = countedRows
            lost = lostRows
            for (name, state) in zip(names, states) { stageStates[name] = StageState(rawValue: state) }
        }
        guard isCurrent else {
            try await markInbox(
                consumer: consumer, eventID: Self.inboxEventID(event), outcome: "ignored",
                reason: "stale or unknown attempt",
                runID: nil, on: connection)
            return nil
        }
        let spec = try PipelineSpecCache.shared.spec(run.specYAML)
        let planner = RunPlanner(spec: spec, params: run.params)
        let actions = planner.apply(outcome, states: stageStates, countedAttempts: counted, lostAttempts: lost)
        guard !actions.isEmpty else { return nil }
        let claim = try await apply(actions, runID: outcome.runId, spec: spec, claimant: claimant, on: connection)
        return AppliedOutcome(
            claimed: claim.map { claim in
                ClaimedAttempt(
                    id: claim.attempt.id, runID: claim.attempt.runID, stage: claim.attempt.stage,
                    attempt: claim.attempt.attempt, epoch: claim.epoch, deadline: claim.deadline,
                    specYAML: run.specYAML, params: run.params, pipeline: run.pipeline, pool: claim.pool,
                    claimableAt: claim.startedAt, startedAt: claim.startedAt)
            })
    }

    /// An outcome applied: the attempt it queued that was claimed in the same transaction for a
    /// ``DirectClaimant``, if any.
    struct AppliedOutcome {
        var claimed: ClaimedAttempt?
    }

    /// Handles `run.cancel`: cancels the run, its unfinished stages and attempts (fencing out
    /// their workers) in one transaction.
    ///
    /// - Returns: whether the run was running and is now cancelled.
    @discardableResult
    public func handleCancel(consumer: String, event: CloudEvent, cancel: RunCancel) async throws -> Bool {
        try await withRunningRun(cancel.runId, consumer: consumer, event: event) { _, connection in
            let who = cancel.requestedBy.map { " by \($0)" } ?? ""
            let reason = "cancelled\(who)" + (cancel.reason.map { ": \($0)" } ?? "")
            try await apply(RunPlanner.cancel(reason: reason), runID: cancel.runId, spec: nil, on: connection)
            return true
        } ?? false
    }

    // MARK: - Loading

    /// Runs `body` in one transaction for a new event about a running run, with the run locked.
    ///
    /// - Returns: `nil` without calling `body` when the event was handled before, or the run
    ///   is unknown or has ended (the event is recorded as ignored).
    private func withRunningRun<Result: Sendable>(
        _ runID: UUID, consumer: String, event: CloudEvent,
        _ body: (LockedRun, DatabaseSession) async throws -> Result
    ) async throws -> Result? {
        let eventID = Self.inboxEventID(event)
        return try await transaction { connection in
            let (claimed, run) = try await claimInboxAndLockRun(
                runID, consumer: consumer, eventID: eventID, eventType: event.type, on: connection)
            guard claimed else { return nil }
            guard let run, run.state == .running else {
                try await markInbox(
                    consumer: consumer, eventID: eventID, outcome: "ignored", reason: "run is not running",
                    runID: nil, on: connection)
                return nil
            }
            return try await body(run, connection)
        }
    }

    struct LockedRun {
        var state: RunState
        var specYAML: String
        var params: [String: JSONValue]
        var pipeline: String
    }

    /// Records the event in the inbox (``StoreAggregate/claimInbox(consumer:eventID:eventType:runID:on:)``)
    /// and loads the run with its row locked, serialising every change to one run: one statement.
    ///
    /// - Returns: whether the inbox row is new (`false`: the event was handled before), and the
    ///   run, `nil` when there is no such run.
    func claimInboxAndLockRun(
        _ runID: UUID, consumer: String, eventID: String, eventType: String, on connection: DatabaseSession
    ) async throws -> (claimed: Bool, run: LockedRun?) {
        let rows = try await connection.query(
            """
            WITH claimed AS (
                INSERT INTO inbox (consumer, event_id, event_type, run_id, outcome)
                VALUES (\(consumer), \(eventID), \(eventType), \(runID), 'applied')
                ON CONFLICT DO NOTHING RETURNING 1
            ), locked AS (
                SELECT state, spec_yaml, params::text AS params, pipeline_name FROM runs WHERE id = \(runID) FOR UPDATE
            )
            SELECT EXISTS (SELECT 1 FROM claimed), l.state, l.spec_yaml, l.params, l.pipeline_name
            FROM (SELECT 1) AS one LEFT JOIN locked l ON true
            """, logger: logger)
        for try await (claimed, state, yaml, params, pipeline) in rows.decode(
            (Bool, String?, String?, String?, String?).self)
        {
            guard let state, let yaml, let params, let pipeline else { return (claimed, nil) }
            let decoded = try JSONDecoder().decode([String: JSONValue].self, from: Data(params.utf8))
            return (
                claimed,
                LockedRun(
                    state: RunState(rawValue: state) ?? .failed, specYAML: yaml, params: decoded, pipeline: pipeline)
            )
        }
        // The statement selects from one row: never reached.
        throw StoreError.conflict("the inbox claim and run lock of event \(eventID) returned no row")
    }
}
