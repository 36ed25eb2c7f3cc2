import BatonCore
import Foundation
import PostgresNIO

/// An attempt a worker has claimed: it holds the lease at `epoch` until `leaseExpiresAt`.
public struct ClaimedAttempt: Sendable, Hashable {
    /// The attempt's id.
    public var id: UUID
    /// The run the attempt belongs to.
    public var runID: UUID
    /// The stage's name in the run's spec.
    public var stage: String
    /// The 1-based attempt number of the stage in this run.
    public var attempt: Int
    /// The fencing epoch; every later write must present it.
    public var epoch: Int64
    /// When the stage's timeout runs out.
    public var deadline: Date
    /// The run's spec, as stored with the run.
    public var specYAML: String
    /// The run's resolved params.
    public var params: [String: JSONValue]
    /// The Ray submission id, once Ray accepted the attempt's job.
    public var raySubmissionID: String?
    /// The run's pipeline, for metrics.
    public var pipeline: String
    /// The worker pool the attempt was queued for.
    public var pool: String
    /// When the attempt became claimable (queued, or its retry delay over), by the database's clock.
    public var claimableAt: Date
    /// When a worker claimed it, by the database's clock.
    public var startedAt: Date

    /// A claim of attempt `id`; see each property.
    public init(
        id: UUID, runID: UUID, stage: String, attempt: Int, epoch: Int64, deadline: Date, specYAML: String,
        params: [String: JSONValue], raySubmissionID: String? = nil, pipeline: String, pool: String,
        claimableAt: Date, startedAt: Date
    ) {
        self.id = id
        self.runID = runID
        self.stage = stage
        self.attempt = attempt
        self.epoch = epoch
        self.deadline = deadline
        self.specYAML = specYAML
        self.params = params
        self.raySubmissionID = raySubmissionID
        self.pipeline = pipeline
        self.pool = pool
        self.claimableAt = claimableAt
        self.startedAt = startedAt
    }

    /// The attempt's outcome ending in `state`, as its outcome event carries it.
    public func outcome(_ state: AttemptState, error: String? = nil, errorType: String? = nil) -> StageOutcome {
        StageOutcome(
            runId: runID, stage: stage, attemptId: id, attempt: attempt, state: state, error: error,
            errorType: errorType)
    }
}

/// What a job reported, recorded with its attempt's outcome.
public struct AttemptReport: Sendable, Hashable {
    /// Ray's last status of the job, e.g. `SUCCEEDED`; nil for a stage that ran no Ray job.
    public var rayStatus: String?
    /// Ray's explanation of the status (the driver's error for failures); nil when Ray gave none.
    public var rayMessage: String?
    /// Ray's class of failure, e.g. `JOB_ENTRYPOINT_COMMAND_ERROR`; nil when Ray gave none.
    public var rayErrorType: String?
    /// The job driver's exit code; nil when Ray reported none.
    public var driverExitCode: Int?
    /// When Ray started and ended the job, by Ray's clock.
    public var rayStartedAt: Date?
    /// When Ray ended the job, by Ray's clock; nil when unknown.
    public var rayEndedAt: Date?
    /// The outputs and metrics the job reported in its log.
    public var records: JobRecords

    /// A report with the given fields; every field is optional.
    public init(
        rayStatus: String? = nil, rayMessage: String? = nil, rayErrorType: String? = nil, driverExitCode: Int? = nil,
        rayStartedAt: Date? = nil, rayEndedAt: Date? = nil, records: JobRecords = JobRecords()
    ) {
        self.rayStartedAt = rayStartedAt
        self.rayEndedAt = rayEndedAt
        self.rayStatus = rayStatus
        self.rayMessage = rayMessage
        self.rayErrorType = rayErrorType
        self.driverExitCode = driverExitCode
        self.records = records
    }
}

extension AttemptStore {
    /// Claims a queued attempt for `owner` with a lease, and marks its stage running.
    ///
    /// - Returns: the claim, or `nil` when the attempt is not queued (already claimed, cancelled,
    ///   or a redelivered event) — then the caller must not execute anything.
    public func claimAttempt(_ attemptID: UUID, owner: String, lease: Duration) async throws -> ClaimedAttempt? {
        let rows = try await client.statement(
            "SELECT run_id, stage, attempt FROM stage_attempts WHERE id = \(attemptID)", logger: logger)
        for try await (runID, stage, attempt) in rows.decode((UUID, String, Int).self) {
            return try await claimAttempt(
                QueuedAttempt(id: attemptID, runID: runID, stage: stage, attempt: attempt), owner: owner, lease: lease)
        }
        return nil
    }

    /// Claims a queued attempt for `owner` with a lease, marks its stage running and writes its
    /// `stage.started` event: one statement, so one round trip whether or not it claims. An
    /// attempt whose run, stage or number differ from `queued` (a `stage.ready` that disagrees
    /// with the database) is not claimed.
    ///
    /// - Returns: the claim, or `nil` when the attempt is not queued (already claimed, cancelled,
    ///   or a redelivered event) — then the caller must not execute anything.
    public func claimAttempt(_ queued: QueuedAttempt, owner: String, lease: Duration) async throws -> ClaimedAttempt? {
        let started = try runEvent(
            .stageStarted, runID: queued.runID, stage: queued.stage,
            payload: StageOutcome(
                runId: queued.runID, stage: queued.stage, attemptId: queued.id, attempt: queued.attempt,
                state: .running))
        let rows = try await client.statement(
            """
            WITH claimed AS (
                UPDATE stage_attempts SET state = 'running', lease_owner = \(owner),
                    lease_expires_at = now() + make_interval(secs => \(lease.secondsDouble)),
                    lease_epoch = lease_epoch + 1, started_at = now(),
                    deadline_at = now() + timeout_ms * interval '1 millisecond'
                WHERE id = \(queued.id) AND run_id = \(queued.runID) AND stage = \(queued.stage)
                    AND attempt = \(queued.attempt) AND state = 'queued'
                RETURNING run_id, stage, lease_epoch, deadline_at, pool, greatest(queued_at, available_at) AS claimable_at,
                    started_at
            ), running AS (
                UPDATE stages s SET state = 'running', started_at = coalesce(s.started_at, now())
                FROM claimed c WHERE s.run_id = c.run_id AND s.name = c.stage AND s.state = 'ready'
            ), announced AS (
                INSERT INTO outbox (event_id, event_type, source, subject, topic, key, payload, available_at, traceparent)
                SELECT \(started.id), \(started.type), \(started.source), \(started.subject), \(topics.runEvents),
                    \(queued.runID.lowercased), \(ByteBuffer(bytes: started.data)), now(), \(Self.traceparent(of: started))
                FROM claimed
            )
            SELECT c.lease_epoch, c.deadline_at, c.pool, c.claimable_at, c.started_at, r.spec_yaml, r.params::text,
                r.pipeline_name
            FROM claimed c JOIN runs r ON r.id = c.run_id
            """, logger: logger)
        for try await (epoch, deadline, pool, claimableAt, startedAt, specYAML, paramsJSON, pipeline) in rows.decode(
            (Int64, Date, String, Date, Date, String, String, String).self)
        {
            let params = try JSONDecoder().decode([String: JSONValue].self, from: Data(paramsJSON.utf8))
            return ClaimedAttempt(
                id: queued.id, runID: queued.runID, stage: queued.stage, attempt: queued.attempt, epoch: epoch,
                deadline: deadline, specYAML: specYAML, params: params, pipeline: pipeline, pool: pool,
                claimableAt: claimableAt, startedAt: startedAt)
        }
        return nil
    }

    /// Extends a lease; `false` when the lease was lost (the attempt was taken over, cancelled or ended).
    public func renewLease(_ claim: ClaimedAttempt, lease: Duration) async throws -> Bool {
        let rows = try await client.statement(
            """
            UPDATE stage_attempts SET lease_expires_at = now() + make_interval(secs => \(lease.secondsDouble))
            WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Counts one execution of the attempt's work (fenced), so audits can prove exactly-once.
    ///
    /// - Returns: `false` when the lease was lost: the caller must not execute.
    public func recordExecution(_ claim: ClaimedAttempt) async throws -> Bool {
        let rows = try await client.statement(
            """
            UPDATE stage_attempts SET executions = executions + 1
            WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Ends an attempt, records what its job reported (outputs as artifacts with their edges,
    /// metrics) and writes its outcome event — one statement, so one round trip, fenced by the
    /// epoch: when the UPDATE matches nothing, nothing else is written either.
    ///
    /// With `countingExecution`, the same write counts the attempt's execution
    /// (``recordExecution(_:)``): for work done in no time between the claim and the end, with no
    /// effect outside this write (an instant `noop`), so that a fenced-out end records neither.
    ///
    /// - Returns: the outcome recorded (its event's payload); `nil` when the write was fenced out
    ///   (the lease was lost or the attempt was cancelled or timed out meanwhile): nothing was
    ///   written then.
    @discardableResult
    public func finishAttempt(
        _ claim: ClaimedAttempt, state: AttemptState, error: String? = nil, errorType: String? = nil,
        report: AttemptReport? = nil, countingExecution: Bool = false
    ) async throws -> StageOutcome? {
        let (write, outcome) = try finishingWrite(
            claim, state: state, error: error, errorType: errorType, report: report,
            countingExecution: countingExecution)
        return try await wroteOne(write) ? outcome : nil
    }
}

extension StoreAggregate {
    /// Runs `query`, whose one row is a count of the rows it wrote (a fenced write: a
    /// ``finishingWrite(_:state:error:errorType:report:countingExecution:)``, a launch), in
    /// `connection`'s transaction or on a pooled connection of its own.
    ///
    /// - Returns: whether it wrote its row (`false`: fenced out, nothing written).
    func wroteOne(_ query: PostgresQuery, on connection: DatabaseSession? = nil) async throws -> Bool {
        let rows =
            if let connection {
                try await connection.statement(query, logger: logger)
            } else {
                try await client.statement(query, logger: logger)
            }
        for try await count in rows.decode(Int.self) { return count == 1 }
        return false
    }

    /// The statement of ``AttemptStore/finishAttempt(_:state:error:errorType:report:countingExecution:)``
    /// and the outcome it records: its one row is 1 when the attempt was ended, 0 when the write
    /// was fenced out. Also run inside the direct hand-off's transaction
    /// (``RunStore/finishAndApplyOutcome(_:state:error:errorType:report:countingExecution:consumer:claimingFor:pool:lease:)``).
    func finishingWrite(
        _ claim: ClaimedAttempt, state: AttemptState, error: String?, errorType: String?, report: AttemptReport?,
        countingExecution: Bool
    ) throws -> (PostgresQuery, StageOutcome) {
        precondition(state.isTerminal, "finishAttempt needs a terminal state")
        let records = report?.records ?? JobRecords()
        let outputs = records.outputs
        // One row per distinct artifact, and per metric point (the last value reported wins): an
        // upsert may not touch a row twice in one statement.
        var artifacts: [String: JobOutput] = [:]
        for output in outputs { artifacts["\(output.uri)\u{0}\(output.md5 ?? "")"] = output }
        let distinct = Array(artifacts.values)
        var latest: [String: JobMetric] = [:]
        for metric in records.metrics { latest["\(metric.key)\u{0}\(metric.step)"] = metric }
        let metrics = Array(latest.values)
        let outcome = claim.outcome(state, error: error, errorType: errorType)
        let event = try runEvent(
            EventType.outcome(of: state, cached: false), runID: claim.runID, stage: claim.stage, payload: outcome)
        let query: PostgresQuery = """
            WITH finished AS (
                UPDATE stage_attempts SET state = \(state.rawValue), finished_at = now(), error = \(error),
                    error_type = \(errorType), ray_status = coalesce(\(report?.rayStatus), ray_status),
                    ray_message = \(report?.rayMessage), ray_error_type = \(report?.rayErrorType),
                    driver_exit_code = \(report?.driverExitCode), ray_started_at = \(report?.rayStartedAt),
                    ray_ended_at = \(report?.rayEndedAt), executions = executions + \(countingExecution ? 1 : 0)
                WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' RETURNING id
            ), artifact AS (
                INSERT INTO artifacts (uri, md5, size, nfiles, kind)
                SELECT a.uri, nullif(a.md5, ''), nullif(a.size, -1), nullif(a.nfiles, -1), a.kind
                FROM unnest(\(distinct.map(\.uri))::text[], \(distinct.map { $0.md5 ?? "" })::text[],
                    \(distinct.map { $0.size ?? -1 })::bigint[], \(distinct.map { $0.nfiles ?? -1 })::int[],
                    \(distinct.map(\.artifactKind))::text[]) AS a(uri, md5, size, nfiles, kind)
                WHERE EXISTS (SELECT 1 FROM finished)
                ON CONFLICT (uri, md5) DO UPDATE SET size = coalesce(excluded.size, artifacts.size),
                    nfiles = coalesce(excluded.nfiles, artifacts.nfiles), kind = excluded.kind
                RETURNING id, uri, md5
            ), recorded_outputs AS (
                INSERT INTO attempt_outputs (attempt_id, name, artifact_id)
                SELECT \(claim.id), o.name, artifact.id
                FROM unnest(\(outputs.map(\.name))::text[], \(outputs.map(\.uri))::text[],
                    \(outputs.map { $0.md5 ?? "" })::text[]) AS o(name, uri, md5)
                JOIN artifact ON artifact.uri = o.uri AND artifact.md5 IS NOT DISTINCT FROM nullif(o.md5, '')
                ON CONFLICT (attempt_id, name) DO UPDATE SET artifact_id = excluded.artifact_id
            ), recorded_metrics AS (
                INSERT INTO attempt_metrics (attempt_id, key, step, value)
                SELECT \(claim.id), m.key, m.step, m.value
                FROM unnest(\(metrics.map(\.key))::text[], \(metrics.map(\.step))::bigint[],
                    \(metrics.map(\.value))::float8[]) AS m(key, step, value)
                WHERE EXISTS (SELECT 1 FROM finished)
                ON CONFLICT (attempt_id, key, step) DO UPDATE SET value = excluded.value
            ), outcome AS (
                INSERT INTO outbox (event_id, event_type, source, subject, topic, key, payload, available_at, traceparent)
                SELECT \(event.id), \(event.type), \(event.source), \(event.subject), \(topics.runEvents),
                    \(claim.runID.lowercased), \(ByteBuffer(bytes: event.data)), now(), \(Self.traceparent(of: event))
                WHERE EXISTS (SELECT 1 FROM finished)
            )
            SELECT count(*)::int FROM finished
            """
        return (query, outcome)
    }
}
