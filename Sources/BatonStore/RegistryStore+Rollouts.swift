import BatonCore
import Foundation
import PostgresNIO

/// A model version a rollout moves traffic to or from.
public struct RolloutVersion: Sendable, Hashable {
    /// The registered model's name.
    public var model: String
    /// The version's number.
    public var version: Int
    /// Where the version's artifact is, for the serving target to load.
    public var artifactURI: String
    /// MD5 of the artifact; nil when the job reported none.
    public var artifactMD5: String?
}

extension RegistryStore {
    // MARK: - Reading

    /// The version the run's `registerStage` registered (the candidate) and the model's current
    /// `champion` (the stable version; `nil` for a model's first rollout).
    ///
    /// - Returns: `nil` when the register stage registered no version in this run.
    public func rolloutVersions(
        runID: UUID, registerStage: String, model: String
    ) async throws -> (candidate: RolloutVersion, stable: RolloutVersion?)? {
        var candidate: RolloutVersion?
        let rows = try await client.statement(
            """
            SELECT v.version, f.uri, f.md5 FROM model_versions v JOIN artifacts f ON f.id = v.artifact_id
            WHERE v.model = \(model) AND v.run_id = \(runID) AND v.stage = \(registerStage)
            ORDER BY v.version DESC LIMIT 1
            """, logger: logger)
        for try await (version, uri, md5) in rows.decode((Int, String, String?).self) {
            candidate = RolloutVersion(model: model, version: version, artifactURI: uri, artifactMD5: md5)
        }
        guard let candidate else { return nil }
        var stable: RolloutVersion?
        let champion = try await client.statement(
            """
            SELECT v.version, f.uri, f.md5 FROM model_aliases a
            JOIN model_versions v ON v.model = a.model AND v.version = a.version
            JOIN artifacts f ON f.id = v.artifact_id
            WHERE a.model = \(model) AND a.alias = 'champion'
            """, logger: logger)
        for try await (version, uri, md5) in champion.decode((Int, String, String?).self) {
            stable = RolloutVersion(model: model, version: version, artifactURI: uri, artifactMD5: md5)
        }
        return (candidate, stable)
    }

    // MARK: - Writing

    /// Records one rollout step and writes `rollout.step`, fenced by the lease epoch.
    ///
    /// - Returns: `false` when the lease was lost (nothing written).
    public func recordRolloutStep(_ claim: ClaimedAttempt, _ step: RolloutStepped) async throws -> Bool {
        let measurements = String(decoding: try JSONEncoder().encode(step.measurements), as: UTF8.self)
        return try await transaction { connection in
            guard try await holdsLease(claim, on: connection) else { return false }
            try await connection.query(
                """
                INSERT INTO rollout_steps (attempt_id, step_index, run_id, stage, model, candidate_version,
                    stable_version, kind, weight, phase, measurements, message)
                VALUES (\(claim.id), \(step.index), \(claim.runID), \(claim.stage), \(step.model),
                    \(step.candidateVersion), \(step.stableVersion), \(step.kind), \(step.weight), \(step.phase),
                    \(measurements)::jsonb, \(step.message))
                ON CONFLICT (attempt_id, step_index) DO UPDATE SET kind = excluded.kind, weight = excluded.weight,
                    phase = excluded.phase, measurements = excluded.measurements, message = excluded.message,
                    recorded_at = now()
                """, logger: logger)
            try await enqueueRunEvent(
                .rolloutStep, runID: claim.runID, stage: claim.stage, payload: step, on: connection)
            return true
        }
    }

    /// Ends a rollout attempt in one transaction fenced by the lease epoch.
    ///
    /// Succeeded: `champion` moves to the candidate (move `promote`, actor `baton/<run id>`),
    /// `rollout.succeeded`, the attempt succeeds. Aborted: the alias the run's register stage moved
    /// (`registerAlias`) goes back to where it pointed before (move `rollback`) if it still points
    /// at the candidate, `rollout.aborted`, the attempt fails with error type `rollout_aborted`.
    /// Every alias move has its audit row and `model.promoted`.
    ///
    /// - Returns: the outcome recorded (its event's payload); `nil` when the lease was lost:
    ///   nothing was written then.
    @discardableResult
    public func finishRollout(
        _ claim: ClaimedAttempt, ended: RolloutEnded, succeeded: Bool, registerAlias: String
    ) async throws -> StageOutcome? {
        try await transaction { connection in
            guard try await holdsLease(claim, on: connection) else { return nil }
            try await connection.statement(
                "SELECT 1 FROM models WHERE name = \(ended.model) FOR UPDATE", logger: logger)
            let actor = "baton/\(claim.runID.lowercased)"
            let subject = "run/\(claim.runID.lowercased)/stage/\(claim.stage)"
            if succeeded {
                try await moveAlias(
                    AliasMoveRequest(
                        model: ended.model, alias: "champion", move: .promote, actor: actor,
                        reason: "rollout stage \(claim.stage) of run \(claim.runID.lowercased) succeeded",
                        runID: claim.runID),
                    to: ended.candidateVersion, subject: subject, on: connection)
            } else {
                let rows = try await connection.query(
                    """
                    SELECT e.from_version FROM model_alias_events e
                    JOIN model_aliases a ON a.model = e.model AND a.alias = e.alias
                    WHERE e.model = \(ended.model) AND e.alias = \(registerAlias) AND e.run_id = \(claim.runID)
                        AND e.move = 'register' AND a.version = \(ended.candidateVersion)
                    ORDER BY e.id DESC LIMIT 1
                    """, logger: logger)
                var revert: Int??
                for try await from in rows.decode(Int?.self) { revert = .some(from) }
                if let target = revert {
                    try await moveAlias(
                        AliasMoveRequest(
                            model: ended.model, alias: registerAlias, move: .rollback, actor: actor,
                            reason: "rollout aborted: \(ended.reason ?? "")", runID: claim.runID),
                        to: target, subject: subject, on: connection)
                }
            }
            let state: AttemptState = succeeded ? .succeeded : .failed
            let errorType: String? = succeeded ? nil : RunPlanner.rolloutAbortedErrorType
            try await connection.query(
                """
                UPDATE stage_attempts SET state = \(state.rawValue), finished_at = now(), error = \(ended.reason),
                    error_type = \(errorType)
                WHERE id = \(claim.id)
                """, logger: logger)
            try await enqueueRunEvent(
                succeeded ? .rolloutSucceeded : .rolloutAborted, runID: claim.runID, stage: claim.stage,
                payload: ended, on: connection)
            let outcome = claim.outcome(state, error: ended.reason, errorType: errorType)
            try await enqueueRunEvent(
                EventType.outcome(of: state, cached: false), runID: claim.runID, stage: claim.stage,
                payload: outcome, on: connection)
            return outcome
        }
    }

    /// Whether the attempt still holds its lease; locks its row for the rest of the transaction.
    private func holdsLease(_ claim: ClaimedAttempt, on connection: DatabaseSession) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT 1 FROM stage_attempts
            WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' FOR UPDATE
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }
}

extension RegistryStore {
    /// The recorded canary steps of `model`'s rollouts, oldest first, at most `limit`.
    public func rolloutSteps(model: String, limit: Int = 500) async throws -> [RolloutStepView] {
        let rows = try await client.statement(
            """
            SELECT candidate_version, stable_version, run_id, step_index, kind, weight, phase, measurements::text,
                   message, recorded_at
            FROM rollout_steps WHERE model = \(model) ORDER BY recorded_at, step_index LIMIT \(min(max(limit, 1), 5000))
            """, logger: logger)
        var steps: [RolloutStepView] = []
        for try await (candidate, stable, runID, index, kind, weight, phase, measurements, message, at) in rows.decode(
            (Int, Int?, UUID, Int, String, Int, String, String, String?, Date).self)
        {
            steps.append(
                RolloutStepView(
                    candidateVersion: candidate, stableVersion: stable, runId: runID.lowercased, stepIndex: index,
                    kind: kind, weight: weight, phase: phase,
                    measurements: (try? JSONDecoder().decode([String: JSONValue].self, from: Data(measurements.utf8)))
                        ?? [:], message: message, recordedAt: at))
        }
        return steps
    }
}
