import BatonCore
import Foundation
import PostgresNIO

extension RegistryStore {
    /// The values a gate of this run reads from PostgreSQL.
    ///
    /// - Parameters:
    ///   - stages: the upstream stages whose metrics the condition reads; each contributes the
    ///     metrics of its latest succeeded attempt of the run, at each key's last step.
    ///   - model: the model whose `champion` alias the condition reads; `nil` reads none.
    /// - Returns: the run's params, those metrics, and the champion version's metrics snapshot
    ///   (absent when the model has no champion).
    public func gateInputs(_ claim: ClaimedAttempt, stages: [String], model: String?) async throws -> GateInputs {
        var metrics: [String: [String: Double]] = [:]
        if !stages.isEmpty {
            let rows = try await client.statement(
                """
                WITH latest AS (
                    SELECT DISTINCT ON (stage) id, stage FROM stage_attempts
                    WHERE run_id = \(claim.runID) AND stage = ANY(\(stages)) AND state = 'succeeded'
                    ORDER BY stage, attempt DESC
                )
                SELECT DISTINCT ON (l.stage, m.key) l.stage, m.key, m.value
                FROM latest l JOIN attempt_metrics m ON m.attempt_id = l.id
                ORDER BY l.stage, m.key, m.step DESC
                """, logger: logger)
            for try await (stage, key, value) in rows.decode((String, String, Double).self) {
                metrics[stage, default: [:]][key] = value
            }
        }
        var champion: GateInputs.Champion?
        if let model {
            let rows = try await client.statement(
                """
                SELECT v.version, v.metrics::text FROM model_aliases a
                JOIN model_versions v ON v.model = a.model AND v.version = a.version
                WHERE a.model = \(model) AND a.alias = 'champion'
                """, logger: logger)
            for try await (version, snapshot) in rows.decode((Int, String).self) {
                let decoded = try JSONDecoder().decode([String: [String: JSONValue]].self, from: Data(snapshot.utf8))
                champion = GateInputs.Champion(
                    model: model, version: version,
                    metrics: decoded.mapValues { $0.compactMapValues(\.numberValue) })
            }
        }
        return GateInputs(params: claim.params, stageMetrics: metrics, champion: champion)
    }

    /// Ends a gate attempt with its decision, in one transaction fenced by the lease epoch:
    /// the attempt `succeeded` (passed) or `rejected`, the decision in `gate_decisions` with
    /// every value observed, `gate.passed` / `gate.failed`, and the stage outcome
    /// (`stage.succeeded`, or `stage.failed` with state `rejected`).
    ///
    /// - Returns: the outcome recorded (its event's payload); `nil` when the write was fenced out
    ///   (the lease was lost or the attempt was cancelled or timed out meanwhile): nothing was
    ///   written then.
    @discardableResult
    public func finishGateAttempt(
        _ claim: ClaimedAttempt, gate: GateSpec, decision: GateDecision, model: String?, championVersion: Int?
    ) async throws -> StageOutcome? {
        let state: AttemptState = decision.passed ? .succeeded : .rejected
        let errorType: String? = decision.passed ? nil : "rejected_by_gate"
        let observed = String(decoding: try JSONEncoder().encode(decision.observed), as: UTF8.self)
        return try await transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE stage_attempts SET state = \(state.rawValue), finished_at = now(),
                    error = \(decision.failedClause), error_type = \(errorType)
                WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' RETURNING 1
                """, logger: logger)
            var updated = false
            for try await _ in rows { updated = true }
            guard updated else { return nil }
            try await connection.query(
                """
                INSERT INTO gate_decisions (attempt_id, run_id, stage, condition, passed, observed, failed_clause,
                    model, champion_version)
                VALUES (\(claim.id), \(claim.runID), \(claim.stage), \(gate.conditionSource), \(decision.passed),
                    \(observed)::jsonb, \(decision.failedClause), \(model), \(championVersion))
                """, logger: logger)
            let decided = GateDecided(
                runId: claim.runID, stage: claim.stage, attemptId: claim.id, attempt: claim.attempt,
                condition: gate.conditionSource, passed: decision.passed, observed: decision.observed,
                failedClause: decision.failedClause, model: model, championVersion: championVersion)
            try await enqueueRunEvent(
                decision.passed ? .gatePassed : .gateFailed, runID: claim.runID, stage: claim.stage, payload: decided,
                on: connection)
            let outcome = claim.outcome(state, error: decision.failedClause, errorType: errorType)
            try await enqueueRunEvent(
                EventType.outcome(of: state, cached: false), runID: claim.runID, stage: claim.stage,
                payload: outcome, on: connection)
            return outcome
        }
    }

    /// The gate decisions of a run, by attempt id.
    public func gateDecisions(_ runID: UUID) async throws -> [UUID: GateDecisionView] {
        let rows = try await client.statement(
            """
            SELECT attempt_id, condition, passed, observed::text, failed_clause, model, champion_version, decided_at
            FROM gate_decisions WHERE run_id = \(runID)
            """, logger: logger)
        var decisions: [UUID: GateDecisionView] = [:]
        for try await (attemptID, condition, passed, observed, failedClause, model, championVersion, decidedAt)
            in rows.decode((UUID, String, Bool, String, String?, String?, Int?, Date).self)
        {
            decisions[attemptID] = GateDecisionView(
                condition: condition, passed: passed,
                observed: try JSONDecoder().decode([String: JSONValue].self, from: Data(observed.utf8)),
                failedClause: failedClause, model: model, championVersion: championVersion, decidedAt: decidedAt)
        }
        return decisions
    }
}
