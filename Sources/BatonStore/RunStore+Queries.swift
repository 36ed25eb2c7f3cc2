import BatonCore
import Foundation
import PostgresNIO

extension RunStore {
    /// The most recent runs, newest first.
    public func listRuns(limit: Int = 50) async throws -> [RunSummary] {
        let rows = try await client.statement(
            """
            SELECT id, pipeline_name, pipeline_version, state, reason, created_at, finished_at
            FROM runs ORDER BY created_at DESC LIMIT \(limit)
            """, logger: logger)
        var runs: [RunSummary] = []
        for try await (id, pipeline, version, state, reason, createdAt, finishedAt) in rows.decode(
            (UUID, String, Int?, String, String?, Date, Date?).self)
        {
            runs.append(
                RunSummary(
                    runId: id.lowercased, pipeline: pipeline, pipelineVersion: version,
                    state: RunState(rawValue: state) ?? .failed,
                    reason: reason, createdAt: createdAt, finishedAt: finishedAt))
        }
        return runs
    }

    /// A run with its stages and every attempt; `nil` when there is no such run.
    public func run(_ runID: UUID) async throws -> RunView? {
        let runRows = try await client.statement(
            """
            SELECT pipeline_name, pipeline_version, state, reason, params::text, created_at, finished_at
            FROM runs WHERE id = \(runID)
            """, logger: logger)
        var view: RunView?
        for try await (pipeline, version, state, reason, params, createdAt, finishedAt) in runRows.decode(
            (String, Int?, String, String?, String, Date, Date?).self)
        {
            view = RunView(
                runId: runID.lowercased, pipeline: pipeline, pipelineVersion: version,
                state: RunState(rawValue: state) ?? .failed,
                reason: reason, params: try JSONDecoder().decode([String: JSONValue].self, from: Data(params.utf8)),
                createdAt: createdAt, finishedAt: finishedAt, stages: [])
        }
        guard var view else { return nil }
        let outputs = try await attemptOutputs(runID)
        let metrics = try await attemptMetrics(runID)
        let gates = try await RegistryStore(database: database).gateDecisions(runID)
        var attempts: [String: [AttemptView]] = [:]
        let attemptRows = try await client.statement(
            """
            SELECT stage, id, attempt, state, lease_owner, executions, started_at, finished_at, error, error_type,
                   ray_status
            FROM stage_attempts WHERE run_id = \(runID) ORDER BY stage, attempt
            """, logger: logger)
        for try await (
            stage, id, attempt, state, worker, executions, startedAt, finishedAt, error, errorType, rayStatus
        )
            in attemptRows.decode(
                (String, UUID, Int, String, String?, Int, Date?, Date?, String?, String?, String?).self)
        {
            attempts[stage, default: []].append(
                AttemptView(
                    attemptId: id.lowercased, attempt: attempt, state: AttemptState(rawValue: state) ?? .failed,
                    worker: worker, executions: executions, startedAt: startedAt, finishedAt: finishedAt,
                    durationSeconds: Self.seconds(from: startedAt, to: finishedAt), error: error, errorType: errorType,
                    rayStatus: rayStatus, outputs: outputs[id] ?? [], metrics: metrics[id] ?? [:],
                    gate: gates[id]))
        }
        let stageRows = try await client.statement(
            """
            SELECT name, kind, pool, state, attempts, reason, started_at, finished_at
            FROM stages WHERE run_id = \(runID) ORDER BY position
            """, logger: logger)
        for try await (name, kind, pool, state, count, reason, startedAt, finishedAt) in stageRows.decode(
            (String, String, String, String, Int, String?, Date?, Date?).self)
        {
            view.stages.append(
                StageView(
                    name: name, kind: StageKind(rawValue: kind) ?? .noop, pool: pool,
                    state: StageState(rawValue: state) ?? .failed, attempts: count, reason: reason,
                    startedAt: startedAt, finishedAt: finishedAt,
                    durationSeconds: Self.seconds(from: startedAt, to: finishedAt), attemptHistory: attempts[name] ?? []
                ))
        }
        return view
    }

    private func attemptOutputs(_ runID: UUID) async throws -> [UUID: [JobOutput]] {
        var outputs: [UUID: [JobOutput]] = [:]
        let rows = try await client.statement(
            """
            SELECT o.attempt_id, o.name, f.uri, f.md5, f.size, f.nfiles
            FROM attempt_outputs o JOIN stage_attempts a ON a.id = o.attempt_id
            JOIN artifacts f ON f.id = o.artifact_id
            WHERE a.run_id = \(runID) ORDER BY o.name
            """, logger: logger)
        for try await (attemptID, name, uri, md5, size, nfiles) in rows.decode(
            (UUID, String, String, String?, Int64?, Int?).self)
        {
            outputs[attemptID, default: []].append(
                JobOutput(name: name, uri: uri, md5: md5, size: size, nfiles: nfiles))
        }
        return outputs
    }

    private func attemptMetrics(_ runID: UUID) async throws -> [UUID: [String: Double]] {
        var metrics: [UUID: [String: Double]] = [:]
        let rows = try await client.statement(
            """
            SELECT DISTINCT ON (m.attempt_id, m.key) m.attempt_id, m.key, m.value
            FROM attempt_metrics m JOIN stage_attempts a ON a.id = m.attempt_id
            WHERE a.run_id = \(runID) ORDER BY m.attempt_id, m.key, m.step DESC
            """, logger: logger)
        for try await (attemptID, key, value) in rows.decode((UUID, String, Double).self) {
            metrics[attemptID, default: [:]][key] = value
        }
        return metrics
    }

    private static func seconds(from start: Date?, to end: Date?) -> Double? {
        guard let start, let end else { return nil }
        return (end.timeIntervalSince(start) * 1000).rounded() / 1000
    }
}

extension RunStore {
    /// Runs matching `filter`, newest first, at most `limit`, with the cursor of the next page
    /// (nil on the last page).
    public func listRuns(_ filter: RunFilter, limit: Int) async throws -> (runs: [RunSummary], next: RunCursor?) {
        let limit = min(max(limit, 1), 500)
        let labels = String(decoding: try CloudEvent.encode(filter.labels), as: UTF8.self)
        let cursorMicroseconds = filter.cursor?.createdAtMicroseconds
        let rows = try await client.statement(
            """
            SELECT id, pipeline_name, pipeline_version, state, reason, created_at, finished_at FROM runs
            WHERE (\(filter.pipeline)::text IS NULL OR pipeline_name = \(filter.pipeline))
              AND (\(filter.state?.rawValue)::text IS NULL OR state = \(filter.state?.rawValue))
              AND labels @> \(labels)::jsonb
              AND (\(filter.createdAfter)::timestamptz IS NULL OR created_at >= \(filter.createdAfter))
              AND (\(filter.createdBefore)::timestamptz IS NULL OR created_at < \(filter.createdBefore))
              AND (\(cursorMicroseconds)::bigint IS NULL
                   OR (created_at, id) < ('epoch'::timestamptz + \(cursorMicroseconds) * interval '1 microsecond',
                                          \(filter.cursor?.runID)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit + 1)
            """, logger: logger)
        var runs: [RunSummary] = []
        var last: (Date, UUID)?
        for try await (id, pipeline, version, state, reason, createdAt, finishedAt) in rows.decode(
            (UUID, String, Int?, String, String?, Date, Date?).self)
        {
            guard runs.count < limit else {
                return (runs, last.map { RunCursor(createdAt: $0.0, runID: $0.1) })
            }
            runs.append(
                RunSummary(
                    runId: id.lowercased, pipeline: pipeline, pipelineVersion: version,
                    state: RunState(rawValue: state) ?? .failed, reason: reason, createdAt: createdAt,
                    finishedAt: finishedAt))
            last = (createdAt, id)
        }
        return (runs, nil)
    }
}

extension RunStore {
    /// Every metric a run's attempts reported with more than one step (a loss curve), by attempt
    /// id (lowercased) and key, as (step, value) in step order; at most `limit` points in all.
    public func metricSeries(_ runID: UUID, limit: Int = 20_000) async throws -> [String: [String: [MetricPoint]]] {
        let rows = try await client.statement(
            """
            SELECT m.attempt_id, m.key, m.step, m.value FROM attempt_metrics m
            JOIN stage_attempts a ON a.id = m.attempt_id
            WHERE a.run_id = \(runID)
              AND (SELECT count(*) FROM attempt_metrics o WHERE o.attempt_id = m.attempt_id AND o.key = m.key) > 1
            ORDER BY m.attempt_id, m.key, m.step LIMIT \(min(max(limit, 1), 100_000))
            """, logger: logger)
        var series: [String: [String: [MetricPoint]]] = [:]
        for try await (attempt, key, step, value) in rows.decode((UUID, String, Int64, Double).self) {
            series[attempt.lowercased, default: [:]][key, default: []].append(MetricPoint(step: step, value: value))
        }
        return series
    }
}

/// One reported value of a metric at a step.
public struct MetricPoint: Sendable, Hashable, Codable {
    /// The step (e.g. the training iteration).
    public var step: Int64
    /// The value at that step.
    public var value: Double
}

extension RunStore {
    /// A run's pipeline and state, as recorded; `nil` for an unknown run.
    public func pipelineAndState(of runID: UUID) async throws -> (pipeline: String, state: RunState)? {
        let rows = try await client.statement(
            "SELECT pipeline_name, state FROM runs WHERE id = \(runID)", logger: logger)
        for try await (pipeline, state) in rows.decode((String, String).self) {
            guard let state = RunState(rawValue: state) else { return nil }
            return (pipeline, state)
        }
        return nil
    }
}
