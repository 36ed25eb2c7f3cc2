import BatonCore
import Foundation
import PostgresNIO

/// A Baton run as the MLflow mirror needs it, with what MLflow was last told about it.
public struct MLflowMirrorRun: Sendable {
    /// The Baton run's id.
    public var id: UUID
    /// The name of the run's pipeline.
    public var pipelineName: String
    /// The run's state.
    public var state: RunState
    /// The run's params, each value as text (strings bare, anything else as JSON).
    public var params: [(key: String, value: String)]
    /// When the run was created.
    public var createdAt: Date
    /// When the run ended; nil while it runs.
    public var finishedAt: Date?
    /// The parent MLflow run, once made.
    public var mirrored: Mirrored?
    /// Every attempt of every stage, oldest first.
    public var attempts: [Attempt]

    /// What the mirror stored about the parent MLflow run.
    public struct Mirrored: Sendable {
        /// The MLflow experiment the parent run is in.
        public var experimentID: String
        /// The parent MLflow run's id.
        public var mlflowRunID: String
        /// The MLflow status last sent.
        public var status: String?
        /// Whether the run's params were logged to MLflow.
        public var paramsLogged: Bool

        /// A record with the given fields.
        public init(experimentID: String, mlflowRunID: String, status: String?, paramsLogged: Bool) {
            self.experimentID = experimentID
            self.mlflowRunID = mlflowRunID
            self.status = status
            self.paramsLogged = paramsLogged
        }
    }

    /// A stage attempt, with its params, outputs and the metric points not sent yet.
    public struct Attempt: Sendable {
        /// The attempt's id.
        public var id: UUID
        /// The stage's name.
        public var stage: String
        /// The 1-based attempt number of the stage in this run.
        public var attempt: Int
        /// The attempt's state.
        public var state: AttemptState
        /// The stage's kind, e.g. `ray` or `gate`.
        public var kind: String
        /// The worker pool the attempt was queued for.
        public var pool: String
        /// When the attempt was queued.
        public var queuedAt: Date
        /// When a worker started the attempt; nil while it is queued.
        public var startedAt: Date?
        /// When the attempt ended; nil while it runs.
        public var finishedAt: Date?
        /// For a cache hit, the attempt whose outputs it reused.
        public var cachedFrom: UUID?
        /// A readable error, for failures.
        public var error: String?
        /// The attempt's params by key, each value as text (strings bare, anything else as JSON).
        public var params: [(key: String, value: String)] = []
        /// The outputs the attempt recorded, by name, with their md5 when known.
        public var outputs: [(name: String, uri: String, md5: String?)] = []
        /// The attempt's metric points not yet sent to MLflow.
        public var pendingMetrics: [PendingMetric] = []
        /// The nested MLflow run, once made.
        public var mirrored: MirroredAttempt?
    }

    /// What the mirror stored about an attempt's MLflow run.
    public struct MirroredAttempt: Sendable {
        /// The nested MLflow run's id.
        public var mlflowRunID: String
        /// The MLflow status last sent.
        public var status: String?
        /// How many params / outputs were logged (they are only ever added).
        public var paramsLogged: Int
        /// How many of the attempt's outputs were logged.
        public var outputsLogged: Int

        /// A record with the given fields.
        public init(mlflowRunID: String, status: String?, paramsLogged: Int, outputsLogged: Int) {
            self.mlflowRunID = mlflowRunID
            self.status = status
            self.paramsLogged = paramsLogged
            self.outputsLogged = outputsLogged
        }
    }

    /// A metric point written since it was last sent.
    public struct PendingMetric: Sendable {
        /// Its row in the queue, deleted once MLflow has the point.
        public var id: Int64
        /// The metric's name.
        public var key: String
        /// The step the job reported with the value.
        public var step: Int64
        /// The measured value.
        public var value: Double
        /// When Baton recorded the point.
        public var recordedAt: Date
    }
}

extension MirrorStore {
    // MARK: - Switching on, leadership

    /// Switches change capture on. The first time, every existing run, metric point and
    /// registered model is queued too, so a mirror enabled late catches up on history.
    ///
    /// - Returns: whether this call switched it on.
    public func enableMLflowMirror() async throws -> Bool {
        try await transaction { connection in
            let rows = try await connection.query(
                "INSERT INTO mlflow_mirror DEFAULT VALUES ON CONFLICT DO NOTHING RETURNING 1", logger: logger)
            var enabled = false
            for try await _ in rows { enabled = true }
            guard enabled else { return false }
            try await connection.query(
                "INSERT INTO mlflow_mirror_changes (run_id) SELECT id FROM runs ORDER BY created_at", logger: logger)
            try await connection.query(
                "INSERT INTO mlflow_registry_changes (model) SELECT name FROM models ORDER BY created_at",
                logger: logger)
            try await connection.query(
                """
                INSERT INTO mlflow_mirror_pending_metrics (attempt_id, key, step, value, recorded_at)
                SELECT attempt_id, key, step, value, recorded_at FROM attempt_metrics
                """, logger: logger)
            return true
        }
    }

    /// Takes or renews the mirror's lease for `owner`; `false` while another mirror holds it.
    public func leaseMLflowMirror(owner: String, for duration: Duration) async throws -> Bool {
        let rows = try await client.statement(
            """
            UPDATE mlflow_mirror SET owner = \(owner),
                lease_expires_at = now() + make_interval(secs => \(duration.secondsDouble))
            WHERE owner IS NULL OR owner = \(owner) OR lease_expires_at < now() RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Gives the lease up, so another mirror can take over at once.
    public func releaseMLflowMirror(owner: String) async throws {
        try await client.statement(
            "UPDATE mlflow_mirror SET owner = NULL, lease_expires_at = NULL WHERE owner = \(owner)", logger: logger)
    }

    // MARK: - Changes

    /// The oldest queued changes, grouped by run, oldest run first; parked runs' changes stay
    /// queued but are left out until `baton mirror retry` clears the parking.
    public func mlflowMirrorChanges(limit: Int) async throws -> [(runID: UUID, changeIDs: [Int64])] {
        let rows = try await client.statement(
            """
            SELECT run_id, array_agg(id) FROM (
                SELECT c.id, c.run_id FROM mlflow_mirror_changes c
                WHERE NOT EXISTS (
                    SELECT 1 FROM mlflow_mirror_parked p WHERE p.kind = 'run' AND p.subject = c.run_id::text)
                ORDER BY c.id LIMIT \(limit)
            ) c GROUP BY run_id ORDER BY min(id)
            """, logger: logger)
        var changes: [(runID: UUID, changeIDs: [Int64])] = []
        for try await (runID, ids) in rows.decode((UUID, [Int64]).self) { changes.append((runID, ids)) }
        return changes
    }

    /// How many of `runIDs` have changes MLflow has not seen yet; `nil` when no mirror holds the
    /// lease (none runs). `baton bench --mlflow-mirror` waits on it.
    public func mlflowMirrorQueued(among runIDs: [UUID]) async throws -> Int? {
        let rows = try await client.statement(
            """
            SELECT (SELECT count(DISTINCT run_id)::int FROM mlflow_mirror_changes WHERE run_id = ANY(\(runIDs)))
            FROM mlflow_mirror WHERE lease_expires_at > now()
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return nil
    }

    /// How many runs have changes MLflow has not seen yet (parked runs not counted).
    public func mlflowMirrorBacklog() async throws -> Int {
        let rows = try await client.statement(
            """
            SELECT count(DISTINCT c.run_id)::int FROM mlflow_mirror_changes c
            WHERE NOT EXISTS (
                SELECT 1 FROM mlflow_mirror_parked p WHERE p.kind = 'run' AND p.subject = c.run_id::text)
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Deletes changes the mirror brought into MLflow (changes made since stay queued).
    public func deleteMLflowMirrorChanges(_ ids: [Int64]) async throws {
        try await client.statement("DELETE FROM mlflow_mirror_changes WHERE id = ANY(\(ids))", logger: logger)
    }

    /// Deletes metric points MLflow has.
    public func deleteMLflowPendingMetrics(_ ids: [Int64]) async throws {
        try await client.statement("DELETE FROM mlflow_mirror_pending_metrics WHERE id = ANY(\(ids))", logger: logger)
    }

    // MARK: - Reading a run

    /// Run `runID` with its attempts and what MLflow was last told; `nil` if the run is gone.
    ///
    /// - Parameter metricLimit: the most pending metric points read per attempt.
    public func mlflowMirrorRun(_ runID: UUID, metricLimit: Int) async throws -> MLflowMirrorRun? {
        var run: MLflowMirrorRun?
        let runs = try await client.statement(
            """
            SELECT r.pipeline_name, r.state, r.created_at, r.finished_at,
                   m.experiment_id, m.mlflow_run_id, m.status, m.params_logged
            FROM runs r LEFT JOIN mlflow_runs m ON m.run_id = r.id WHERE r.id = \(runID)
            """, logger: logger)
        for try await (pipeline, state, createdAt, finishedAt, experimentID, mlflowRunID, status, paramsLogged)
            in runs.decode((String, String, Date, Date?, String?, String?, String?, Bool?).self)
        {
            var mirrored: MLflowMirrorRun.Mirrored?
            if let experimentID, let mlflowRunID {
                mirrored = .init(
                    experimentID: experimentID, mlflowRunID: mlflowRunID, status: status,
                    paramsLogged: paramsLogged ?? false)
            }
            run = MLflowMirrorRun(
                id: runID, pipelineName: pipeline, state: RunState(rawValue: state) ?? .failed, params: [],
                createdAt: createdAt,
                finishedAt: finishedAt, mirrored: mirrored, attempts: [])
        }
        guard var run else { return nil }
        let params = try await client.statement(
            """
            SELECT p.key, CASE jsonb_typeof(p.value) WHEN 'string' THEN p.value #>> '{}' ELSE p.value::text END
            FROM runs r, jsonb_each(r.params) p
            WHERE r.id = \(runID) ORDER BY p.key
            """, logger: logger)
        for try await (key, value) in params.decode((String, String).self) { run.params.append((key, value)) }
        run.attempts = try await mlflowMirrorAttempts(runID)
        try await fillAttemptDetails(&run.attempts, runID: runID, metricLimit: metricLimit)
        return run
    }

    private func mlflowMirrorAttempts(_ runID: UUID) async throws -> [MLflowMirrorRun.Attempt] {
        let rows = try await client.statement(
            """
            SELECT a.id, a.stage, a.attempt, a.state, a.kind, a.pool, a.queued_at, a.started_at, a.finished_at,
                   a.cached_from, a.error, m.mlflow_run_id, m.status, m.params_logged, m.outputs_logged
            FROM stage_attempts a LEFT JOIN mlflow_attempts m ON m.attempt_id = a.id
            WHERE a.run_id = \(runID) ORDER BY a.queued_at, a.stage, a.attempt
            """, logger: logger)
        var attempts: [MLflowMirrorRun.Attempt] = []
        for try await row in rows {
            let (
                id, stage, attempt, state, kind, pool, queuedAt, startedAt, finishedAt, cachedFrom, error, mlflowRunID,
                status, paramsLogged, outputsLogged
            ) = try row.decode(
                (
                    UUID, String, Int, String, String, String, Date, Date?, Date?, UUID?, String?, String?, String?,
                    Int?, Int?
                ).self)
            attempts.append(
                MLflowMirrorRun.Attempt(
                    id: id, stage: stage, attempt: attempt, state: AttemptState(rawValue: state) ?? .lost, kind: kind,
                    pool: pool, queuedAt: queuedAt,
                    startedAt: startedAt, finishedAt: finishedAt, cachedFrom: cachedFrom, error: error,
                    mirrored: mlflowRunID.map {
                        MLflowMirrorRun.MirroredAttempt(
                            mlflowRunID: $0, status: status, paramsLogged: paramsLogged ?? 0,
                            outputsLogged: outputsLogged ?? 0)
                    }))
        }
        return attempts
    }

    /// Params, outputs and pending metric points of the run's attempts (three indexed queries).
    private func fillAttemptDetails(
        _ attempts: inout [MLflowMirrorRun.Attempt], runID: UUID, metricLimit: Int
    ) async throws {
        let index = Dictionary(uniqueKeysWithValues: attempts.enumerated().map { ($1.id, $0) })
        let ids = attempts.map(\.id)
        let params = try await client.statement(
            """
            SELECT attempt_id, key, CASE jsonb_typeof(value) WHEN 'string' THEN value #>> '{}' ELSE value::text END
            FROM attempt_params
            WHERE attempt_id = ANY(\(ids)) ORDER BY attempt_id, key
            """, logger: logger)
        for try await (attemptID, key, value) in params.decode((UUID, String, String).self) {
            if let i = index[attemptID] { attempts[i].params.append((key, value)) }
        }
        let outputs = try await client.statement(
            """
            SELECT o.attempt_id, o.name, f.uri, f.md5 FROM attempt_outputs o JOIN artifacts f ON f.id = o.artifact_id
            WHERE o.attempt_id = ANY(\(ids)) ORDER BY o.attempt_id, o.name
            """, logger: logger)
        for try await (attemptID, name, uri, md5) in outputs.decode((UUID, String, String, String?).self) {
            if let i = index[attemptID] { attempts[i].outputs.append((name, uri, md5)) }
        }
        let metrics = try await client.statement(
            """
            SELECT p.attempt_id, p.id, p.key, p.step, p.value, p.recorded_at
            FROM unnest(\(ids)::uuid[]) a(id)
            CROSS JOIN LATERAL (
                SELECT * FROM mlflow_mirror_pending_metrics q WHERE q.attempt_id = a.id ORDER BY q.id LIMIT \(metricLimit)
            ) p
            """, logger: logger)
        for try await (attemptID, id, key, step, value, recordedAt) in metrics.decode(
            (UUID, Int64, String, Int64, Double, Date).self)
        {
            if let i = index[attemptID] {
                attempts[i].pendingMetrics.append(
                    .init(id: id, key: key, step: step, value: value, recordedAt: recordedAt))
            }
        }
    }

    // MARK: - Bookkeeping

    /// The id of MLflow experiment `name`, if the mirror stored it.
    public func mlflowExperimentID(_ name: String) async throws -> String? {
        let rows = try await client.statement(
            "SELECT experiment_id FROM mlflow_experiments WHERE name = \(name)", logger: logger)
        for try await id in rows.decode(String.self) { return id }
        return nil
    }

    /// Stores the id of MLflow experiment `name`.
    public func recordMLflowExperiment(_ name: String, id: String) async throws {
        try await client.statement(
            """
            INSERT INTO mlflow_experiments (name, experiment_id) VALUES (\(name), \(id))
            ON CONFLICT (name) DO UPDATE SET experiment_id = excluded.experiment_id
            """, logger: logger)
    }

    /// Marks `subjects` (run and attempt ids) as about to get an MLflow run, before the create
    /// calls; the id stored for each (``recordMLflowRun(_:experimentID:mlflowRunID:status:)``,
    /// ``recordMLflowAttempt(_:mlflowRunID:status:)``) clears its mark.
    ///
    /// - Returns: the subjects that were marked already: an earlier create may have reached MLflow
    ///   without its id being stored, so each must be looked up in MLflow before one is made.
    public func markMLflowCreating(_ subjects: [UUID]) async throws -> Set<UUID> {
        let rows = try await client.statement(
            """
            WITH wanted AS (SELECT unnest(\(subjects)::uuid[]) AS subject),
            marked AS (
                INSERT INTO mlflow_mirror_creating (subject) SELECT subject FROM wanted
                ON CONFLICT (subject) DO NOTHING RETURNING subject
            )
            SELECT subject FROM wanted EXCEPT SELECT subject FROM marked
            """, logger: logger)
        var uncertain: Set<UUID> = []
        for try await subject in rows.decode(UUID.self) { uncertain.insert(subject) }
        return uncertain
    }

    /// Stores the parent MLflow run of run `runID`, and its status if known.
    public func recordMLflowRun(
        _ runID: UUID, experimentID: String, mlflowRunID: String, status: String?
    ) async throws {
        try await client.statement(
            """
            WITH made AS (DELETE FROM mlflow_mirror_creating WHERE subject = \(runID))
            INSERT INTO mlflow_runs (run_id, experiment_id, mlflow_run_id, status)
            VALUES (\(runID), \(experimentID), \(mlflowRunID), \(status)) ON CONFLICT (run_id) DO NOTHING
            """, logger: logger)
    }

    /// Stores what the parent MLflow run of `runID` was told.
    public func updateMLflowRun(_ runID: UUID, status: String?, paramsLogged: Bool) async throws {
        try await client.statement(
            "UPDATE mlflow_runs SET status = \(status), params_logged = \(paramsLogged) WHERE run_id = \(runID)",
            logger: logger)
    }

    /// Stores the nested MLflow run of attempt `attemptID`, and its status if known.
    public func recordMLflowAttempt(_ attemptID: UUID, mlflowRunID: String, status: String?) async throws {
        try await client.statement(
            """
            WITH made AS (DELETE FROM mlflow_mirror_creating WHERE subject = \(attemptID))
            INSERT INTO mlflow_attempts (attempt_id, mlflow_run_id, status)
            VALUES (\(attemptID), \(mlflowRunID), \(status)) ON CONFLICT (attempt_id) DO NOTHING
            """, logger: logger)
    }

    /// Stores what the nested MLflow run of `attemptID` was told.
    public func updateMLflowAttempt(
        _ attemptID: UUID, status: String?, paramsLogged: Int, outputsLogged: Int
    ) async throws {
        try await client.statement(
            """
            UPDATE mlflow_attempts SET status = \(status), params_logged = \(paramsLogged),
                outputs_logged = \(outputsLogged)
            WHERE attempt_id = \(attemptID)
            """, logger: logger)
    }
}
