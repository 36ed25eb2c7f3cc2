import BatonCore
import Foundation
import PostgresNIO

extension AttemptStore {
    /// Records that Ray accepted the attempt's job (fenced); the caller commits the offset after.
    ///
    /// - Returns: `false` when the lease was lost meanwhile.
    public func recordRaySubmission(_ claim: ClaimedAttempt, submissionID: String) async throws -> Bool {
        let rows = try await client.statement(
            """
            UPDATE stage_attempts SET ray_submission_id = \(submissionID), submitted_at = coalesce(submitted_at, now()),
                ray_status = coalesce(ray_status, 'PENDING')
            WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Records Ray's latest status of a watched job (fenced; informational).
    public func recordRayStatus(_ claim: ClaimedAttempt, status: String) async throws {
        try await client.statement(
            """
            UPDATE stage_attempts SET ray_status = \(status)
            WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running'
            """, logger: logger)
    }

    /// Takes over running Ray attempts whose watcher's lease expired (a crashed or stalled
    /// process): the epoch moves on, so the old watcher can no longer write.
    public func adoptRayAttempts(owner: String, lease: Duration, limit: Int) async throws -> [ClaimedAttempt] {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE stage_attempts a SET lease_owner = \(owner), lease_epoch = a.lease_epoch + 1,
                    lease_expires_at = now() + make_interval(secs => \(lease.secondsDouble))
                FROM runs r
                WHERE r.id = a.run_id AND a.id IN (
                    SELECT id FROM stage_attempts
                    WHERE state = 'running' AND kind = 'ray' AND lease_expires_at < now()
                    ORDER BY lease_expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING a.id, a.run_id, a.stage, a.attempt, a.lease_epoch, a.deadline_at, r.spec_yaml, r.params::text,
                    a.ray_submission_id, r.pipeline_name, a.pool, greatest(a.queued_at, a.available_at),
                    a.started_at
                """, logger: logger)
            var adopted: [ClaimedAttempt] = []
            for try await (
                id, runID, stage, attempt, epoch, deadline, yaml, params, submissionID, pipeline, pool,
                claimableAt, startedAt
            ) in rows.decode(
                (UUID, UUID, String, Int, Int64, Date, String, String, String?, String, String, Date, Date).self)
            {
                adopted.append(
                    ClaimedAttempt(
                        id: id, runID: runID, stage: stage, attempt: attempt, epoch: epoch, deadline: deadline,
                        specYAML: yaml,
                        params: try JSONDecoder().decode([String: JSONValue].self, from: Data(params.utf8)),
                        raySubmissionID: submissionID, pipeline: pipeline, pool: pool,
                        claimableAt: claimableAt, startedAt: startedAt))
            }
            return adopted
        }
    }

    /// The current state of an attempt, e.g. to learn why a lease was lost.
    public func attemptState(_ attemptID: UUID) async throws -> AttemptState? {
        let rows = try await client.statement(
            "SELECT state FROM stage_attempts WHERE id = \(attemptID)", logger: logger)
        for try await state in rows.decode(String.self) { return AttemptState(rawValue: state) }
        return nil
    }

    /// Ray jobs of ended (cancelled or timed-out) attempts that may still run.
    public func rayJobsToStop(limit: Int) async throws -> [(attemptID: UUID, submissionID: String)] {
        let rows = try await client.statement(
            """
            SELECT id, ray_submission_id FROM stage_attempts
            WHERE kind = 'ray' AND ray_submission_id IS NOT NULL AND ray_stopped_at IS NULL
              AND state IN ('cancelled', 'timed_out')
            ORDER BY finished_at LIMIT \(limit)
            """, logger: logger)
        var jobs: [(UUID, String)] = []
        for try await row in rows.decode((UUID, String).self) { jobs.append(row) }
        return jobs
    }

    /// Records that Ray confirmed the job of an ended attempt is no longer running.
    public func markRayStopped(_ attemptID: UUID, status: String) async throws {
        try await client.statement(
            "UPDATE stage_attempts SET ray_stopped_at = now(), ray_status = \(status) WHERE id = \(attemptID)",
            logger: logger)
    }

    /// The inputs of a stage: upstream outputs from the succeeded attempts of the same run, and
    /// paths given by params (recorded as `dataset` artifacts, with no content hash).
    public func resolveInputs(_ stage: StageSpec, runID: UUID, params: [String: JSONValue]) async throws
        -> [AttemptInput]
    {
        var inputs: [AttemptInput] = []
        for (name, reference) in stage.inputs.sorted(by: { $0.key < $1.key }) {
            let parts = reference.split(separator: ".").map(String.init)
            if parts.count == 2, parts[0] == "params", let value = params[parts[1]] {
                inputs.append(AttemptInput(name: name, uri: value.plainText, md5: nil, kind: "dataset"))
                continue
            }
            guard parts.count == 4, parts[0] == "stages" else { continue }
            let rows = try await client.statement(
                """
                SELECT f.uri, f.md5, f.kind FROM attempt_outputs o JOIN stage_attempts a ON a.id = o.attempt_id
                JOIN artifacts f ON f.id = o.artifact_id
                WHERE a.run_id = \(runID) AND a.stage = \(parts[1]) AND a.state = 'succeeded' AND o.name = \(parts[3])
                """, logger: logger)
            for try await (uri, md5, kind) in rows.decode((String, String?, String).self) {
                inputs.append(AttemptInput(name: name, uri: uri, md5: md5, kind: kind))
            }
        }
        return inputs
    }
}
