import BatonCore
import Foundation
import PostgresNIO

/// Why a stage of a run was or was not served from the cache (`baton cache explain`).
public struct CacheExplanation: Sendable, Hashable, Codable {
    /// The run's id.
    public var runID: UUID
    /// The stage's name.
    public var stage: String
    /// The stage's latest attempt in the run.
    public var attemptID: UUID
    /// The latest attempt's 1-based number.
    public var attempt: Int
    /// The latest attempt's state.
    public var state: AttemptState
    /// The decision in words, as the worker made it (`hit: ...` / `miss: ...`).
    public var decision: String?
    /// The latest attempt's fingerprint (`sha256:<hex>`); nil when none was recorded.
    public var fingerprint: String?
    /// For a hit: the attempt whose outputs were reused.
    public var cachedFrom: UUID?
    /// The earlier succeeded attempt of the same pipeline stage that this one is compared with.
    public var comparedAttemptID: UUID?
    /// The run of the compared attempt; nil when there was none to compare with.
    public var comparedRunID: UUID?
    /// What differs between the compared attempt's fingerprint ingredients and this one's.
    public var differences: [String]
    /// Whether the outputs a next run would reuse (this attempt's, or those it reused) are in
    /// the store now, as recorded: `all N present`, or the first one that is not and why. `nil`
    /// when not checked (the attempt did not succeed).
    public var outputsNow: String?

    enum CodingKeys: String, CodingKey {
        case stage, attempt, state, decision, fingerprint, differences
        case runID = "run_id"
        case attemptID = "attempt_id"
        case cachedFrom = "cached_from"
        case comparedAttemptID = "compared_attempt_id"
        case comparedRunID = "compared_run_id"
        case outputsNow = "outputs_now"
    }
}

extension AttemptStore {
    /// Explains the cache decision for a stage's latest attempt in a run; `nil` when the stage
    /// has no attempt. A miss is compared with the newest other succeeded attempt of the same
    /// pipeline and stage, and the changed ingredients are named.
    public func explainCache(runID: UUID, stage: String) async throws -> CacheExplanation? {
        let rows = try await client.statement(
            """
            SELECT a.id, a.attempt, a.state, a.cache_decision, a.fingerprint, a.fingerprint_ingredients::text,
                   a.cached_from, r.pipeline_name
            FROM stage_attempts a JOIN runs r ON r.id = a.run_id
            WHERE a.run_id = \(runID) AND a.stage = \(stage) ORDER BY a.attempt DESC LIMIT 1
            """, logger: logger)
        for try await (id, attempt, state, decision, fingerprint, ingredients, cachedFrom, pipeline) in rows.decode(
            (UUID, Int, String, String?, String?, String?, UUID?, String).self)
        {
            var explanation = CacheExplanation(
                runID: runID, stage: stage, attemptID: id, attempt: attempt,
                state: AttemptState(rawValue: state) ?? .failed,
                decision: decision, fingerprint: fingerprint, cachedFrom: cachedFrom, differences: [])
            guard cachedFrom == nil, let current = try Self.ingredients(ingredients) else { return explanation }
            let others = try await client.statement(
                """
                SELECT a.id, a.run_id, a.fingerprint_ingredients::text FROM stage_attempts a JOIN runs r ON r.id = a.run_id
                WHERE r.pipeline_name = \(pipeline) AND a.stage = \(stage) AND a.id <> \(id) AND a.state = 'succeeded'
                  AND a.cached_from IS NULL AND a.fingerprint_ingredients IS NOT NULL
                ORDER BY a.finished_at DESC LIMIT 1
                """, logger: logger)
            for try await (otherID, otherRun, otherIngredients) in others.decode((UUID, UUID, String).self) {
                guard let earlier = try Self.ingredients(otherIngredients) else { continue }
                explanation.comparedAttemptID = otherID
                explanation.comparedRunID = otherRun
                explanation.differences = current.differences(from: earlier)
            }
            return explanation
        }
        return nil
    }

    private static func ingredients(_ json: String?) throws -> StageFingerprint? {
        guard let json else { return nil }
        return try JSONDecoder().decode(StageFingerprint.self, from: Data(json.utf8))
    }
}
