import BatonCore
import Foundation
import PostgresNIO

/// An input of an attempt: where the job reads it and, when known, its content hash.
public struct AttemptInput: Sendable, Hashable {
    /// The input's name, as the stage's job receives it.
    public var name: String
    /// Where the job reads the input.
    public var uri: String
    /// MD5 of the content as DVC computes it (`<md5>.dir` for a folder); nil when unknown.
    public var md5: String?
    /// The artifact kind recorded for an input nobody in Baton produced (a param's path).
    public var kind: String

    /// An input with the given fields.
    public init(name: String, uri: String, md5: String?, kind: String) {
        self.name = name
        self.uri = uri
        self.md5 = md5
        self.kind = kind
    }
}

/// What an attempt is about to run with: recorded before the job starts (or instead of it,
/// for a cache hit), so lineage knows every attempt's inputs, params and code.
public struct AttemptLaunch: Sendable, Hashable {
    /// The ingredients of the attempt's result: code, params, inputs, outputs.
    public var fingerprint: StageFingerprint
    /// Every input the attempt reads, recorded as lineage edges.
    public var inputs: [AttemptInput]
    /// CPUs the attempt reserves; 0 when the stage asks for none.
    public var cpus: Double
    /// GPUs the attempt reserves (for GPU-seconds in audits); 0 when the stage asks for none.
    public var gpus: Double

    /// A launch with the given fields.
    public init(fingerprint: StageFingerprint, inputs: [AttemptInput], cpus: Double, gpus: Double) {
        self.fingerprint = fingerprint
        self.inputs = inputs
        self.cpus = cpus
        self.gpus = gpus
    }
}

/// How a stage of a run may use the cache.
public enum StageCachePolicy: Sendable, Hashable {
    /// Look up a succeeded attempt with the same fingerprint.
    case lookUp
    /// Always run (`submit --no-cache`, or the stages `runs retry --from` re-executes).
    case disabled
    /// Reuse this attempt's outputs without running (stages upstream of `runs retry --from`).
    case reuse(UUID)
}

/// A succeeded attempt whose outputs could stand in for running a stage again.
public struct CacheCandidate: Sendable, Hashable {
    /// The succeeded attempt's id.
    public var attemptID: UUID
    /// The run the attempt belongs to.
    public var runID: UUID
    /// The outputs the attempt recorded, which a cache hit reuses.
    public var outputs: [JobOutput]
    /// The GPU-seconds the attempt reserved (its GPUs times its duration): what a hit saves.
    public var gpuSeconds: Double = 0
}

extension AttemptStore {
    /// The cache policy of a stage of a run.
    public func cachePolicy(runID: UUID, stage: String) async throws -> StageCachePolicy {
        let rows = try await client.statement(
            "SELECT cache_disabled, reuse_attempt_id FROM stages WHERE run_id = \(runID) AND name = \(stage)",
            logger: logger)
        for try await (disabled, reuse) in rows.decode((Bool, UUID?).self) {
            if let reuse { return .reuse(reuse) }
            return disabled ? .disabled : .lookUp
        }
        return .lookUp
    }

    /// The newest original (not itself cached) succeeded attempts with this fingerprint, each
    /// with its outputs; the caller checks the outputs still exist.
    public func cacheCandidates(fingerprint: String, limit: Int = 3) async throws -> [CacheCandidate] {
        let rows = try await client.statement(
            """
            SELECT a.id, a.run_id,
                coalesce(extract(epoch FROM a.finished_at - a.started_at)::float8 * a.num_gpus, 0)::float8
            FROM stage_attempts a
            WHERE a.fingerprint = \(fingerprint) AND a.state = 'succeeded' AND a.cached_from IS NULL
            ORDER BY a.finished_at DESC LIMIT \(limit)
            """, logger: logger)
        var candidates: [CacheCandidate] = []
        for try await (attemptID, runID, gpuSeconds) in rows.decode((UUID, UUID, Double).self) {
            candidates.append(CacheCandidate(attemptID: attemptID, runID: runID, outputs: [], gpuSeconds: gpuSeconds))
        }
        for index in candidates.indices {
            candidates[index].outputs = try await outputs(of: candidates[index].attemptID)
        }
        return candidates
    }

    /// A given attempt as a cache candidate (for `runs retry --from`); `nil` unless it succeeded.
    public func reusableAttempt(_ attemptID: UUID) async throws -> CacheCandidate? {
        let rows = try await client.statement(
            """
            SELECT a.run_id,
                coalesce(extract(epoch FROM a.finished_at - a.started_at)::float8 * a.num_gpus, 0)::float8
            FROM stage_attempts a
            WHERE a.id = \(attemptID) AND a.state = 'succeeded'
            """, logger: logger)
        for try await (runID, gpuSeconds) in rows.decode((UUID, Double).self) {
            return CacheCandidate(
                attemptID: attemptID, runID: runID, outputs: try await outputs(of: attemptID), gpuSeconds: gpuSeconds)
        }
        return nil
    }

    /// Records what the attempt runs with (fingerprint, code, resources, input edges, params)
    /// and why the cache did not serve it, in one statement fenced by the epoch.
    ///
    /// - Returns: `false` when the lease was lost; nothing was written then.
    public func recordLaunch(_ claim: ClaimedAttempt, _ launch: AttemptLaunch, cacheDecision: String) async throws
        -> Bool
    {
        try await writeLaunch(claim, launch, cacheDecision: cacheDecision, on: nil)
    }

    /// Ends the attempt as a cache hit: succeeded without running, with the source attempt's
    /// outputs and metrics, its own inputs and params, and a `stage.cached` event — in one
    /// transaction fenced by the epoch.
    ///
    /// - Returns: `false` when the lease was lost; nothing was written then.
    public func finishFromCache(
        _ claim: ClaimedAttempt, _ launch: AttemptLaunch, source: CacheCandidate, cacheDecision: String
    ) async throws -> Bool {
        try await transaction { connection in
            guard try await writeLaunch(claim, launch, cacheDecision: cacheDecision, on: connection) else {
                return false
            }
            try await connection.query(
                """
                UPDATE stage_attempts SET state = 'succeeded', finished_at = now(), cached_from = \(source.attemptID)
                WHERE id = \(claim.id)
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO attempt_outputs (attempt_id, name, artifact_id)
                SELECT \(claim.id), name, artifact_id FROM attempt_outputs WHERE attempt_id = \(source.attemptID)
                ON CONFLICT DO NOTHING
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO attempt_metrics (attempt_id, key, step, value, recorded_at)
                SELECT \(claim.id), key, step, value, recorded_at FROM attempt_metrics
                WHERE attempt_id = \(source.attemptID)
                ON CONFLICT DO NOTHING
                """, logger: logger)
            let outcome = StageOutcome(
                runId: claim.runID, stage: claim.stage, attemptId: claim.id, attempt: claim.attempt,
                state: .succeeded, cachedFrom: source.attemptID)
            try await enqueueRunEvent(
                .stageCached, runID: claim.runID, stage: claim.stage, payload: outcome, on: connection)
            return true
        }
    }

    /// The launch record as one statement (one round trip): the fenced UPDATE, and only when it
    /// matched, the inputs' artifacts, the input edges and the params.
    private func writeLaunch(
        _ claim: ClaimedAttempt, _ launch: AttemptLaunch, cacheDecision: String, on connection: DatabaseSession?
    ) async throws -> Bool {
        let ingredients = String(decoding: launch.fingerprint.canonicalJSON(), as: UTF8.self)
        let inputs = launch.inputs
        // One row per distinct artifact: an upsert may not touch a row twice in one statement.
        var artifacts: [String: AttemptInput] = [:]
        for input in inputs { artifacts["\(input.uri)\u{0}\(input.md5 ?? "")"] = input }
        let distinct = Array(artifacts.values)
        let params = launch.fingerprint.params.sorted { $0.key < $1.key }
        let encoder = JSONEncoder()
        let values = try params.map { String(decoding: try encoder.encode($0.value), as: UTF8.self) }
        let query: PostgresQuery = """
            WITH launched AS (
                UPDATE stage_attempts SET fingerprint = \(launch.fingerprint.digest),
                    fingerprint_ingredients = \(ingredients)::jsonb, code_digest = \(launch.fingerprint.code),
                    num_cpus = \(launch.cpus), num_gpus = \(launch.gpus), cache_decision = \(cacheDecision)
                WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' RETURNING id
            ), artifact AS (
                INSERT INTO artifacts (uri, md5, kind)
                SELECT a.uri, nullif(a.md5, ''), a.kind
                FROM unnest(\(distinct.map(\.uri))::text[], \(distinct.map { $0.md5 ?? "" })::text[],
                    \(distinct.map(\.kind))::text[]) AS a(uri, md5, kind)
                WHERE EXISTS (SELECT 1 FROM launched)
                ON CONFLICT (uri, md5) DO UPDATE SET uri = excluded.uri
                RETURNING id, uri, md5
            ), edges AS (
                INSERT INTO attempt_inputs (attempt_id, name, artifact_id)
                SELECT \(claim.id), i.name, artifact.id
                FROM unnest(\(inputs.map(\.name))::text[], \(inputs.map(\.uri))::text[],
                    \(inputs.map { $0.md5 ?? "" })::text[]) AS i(name, uri, md5)
                JOIN artifact ON artifact.uri = i.uri AND artifact.md5 IS NOT DISTINCT FROM nullif(i.md5, '')
                ON CONFLICT (attempt_id, name) DO UPDATE SET artifact_id = excluded.artifact_id
            ), recorded_params AS (
                INSERT INTO attempt_params (attempt_id, key, value)
                SELECT \(claim.id), p.key, p.value::jsonb
                FROM unnest(\(params.map(\.key))::text[], \(values)::text[]) AS p(key, value)
                WHERE EXISTS (SELECT 1 FROM launched)
                ON CONFLICT (attempt_id, key) DO UPDATE SET value = excluded.value
            )
            SELECT count(*)::int FROM launched
            """
        return try await wroteOne(query, on: connection)
    }

    private func outputs(of attemptID: UUID) async throws -> [JobOutput] {
        let rows = try await client.statement(
            """
            SELECT o.name, f.uri, f.md5, f.size, f.nfiles, f.kind FROM attempt_outputs o
            JOIN artifacts f ON f.id = o.artifact_id WHERE o.attempt_id = \(attemptID) ORDER BY o.name
            """, logger: logger)
        var outputs: [JobOutput] = []
        for try await (name, uri, md5, size, nfiles, kind) in rows.decode(
            (String, String, String?, Int64?, Int?, String).self)
        {
            outputs.append(JobOutput(name: name, uri: uri, md5: md5, size: size, nfiles: nfiles, kind: kind))
        }
        return outputs
    }
}
