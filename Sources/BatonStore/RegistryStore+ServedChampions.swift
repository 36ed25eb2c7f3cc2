import BatonCore
import Foundation
import PostgresNIO

/// A model's champion that a succeeded rollout put on a serving platform, for the sweeper to keep
/// served there.
public struct ServedChampion: Sendable, Hashable {
    /// The registered model's name.
    public var model: String
    /// The champion's version number.
    public var version: Int
    /// Where the version's artifact is, for the platform to load.
    public var artifactURI: String
    /// MD5 of the artifact; nil when the job reported none.
    public var artifactMD5: String?
    /// Whether an attempt of a rollout stage of the model is queued or running: that rollout owns
    /// the platform for the model, and nothing else may deploy it.
    public var isRollingOut: Bool

    /// A served champion with the given fields.
    public init(model: String, version: Int, artifactURI: String, artifactMD5: String?, isRollingOut: Bool) {
        self.model = model
        self.version = version
        self.artifactURI = artifactURI
        self.artifactMD5 = artifactMD5
        self.isRollingOut = isRollingOut
    }
}

extension RegistryStore {
    // MARK: - Keeping champions served

    /// The models whose `champion` a succeeded rollout to `target` put in place, by name after
    /// `model`, at most `limit`.
    ///
    /// A rollout stage only rolls out the version its own run registered, so the rollout of the
    /// champion is the `rollout.succeeded` (with its target) in the history of the run that
    /// registered the champion's version. A champion moved by hand to a version that no rollout
    /// of `target` served (`baton models promote`) is not listed: what serves it is not known.
    ///
    /// - Parameters:
    ///   - target: the rollout target, e.g. `ray-serve`.
    ///   - model: list models whose name sorts after this one (`""` from the first), so that a
    ///     caller pages through every model in bounded steps.
    ///   - limit: the most models returned, 1...1000.
    public func servedChampions(target: String, after model: String, limit: Int) async throws -> [ServedChampion] {
        let rows = try await client.statement(
            """
            SELECT a.model, a.version, f.uri, f.md5,
                EXISTS (
                    SELECT 1 FROM model_versions r JOIN stage_attempts s ON s.run_id = r.run_id
                    WHERE r.model = a.model AND s.kind = 'rollout' AND s.state IN ('queued', 'running'))
            FROM model_aliases a
            JOIN model_versions v ON v.model = a.model AND v.version = a.version
            JOIN artifacts f ON f.id = v.artifact_id
            WHERE a.alias = 'champion' AND a.model > \(model)
                AND EXISTS (
                    SELECT 1 FROM run_history h
                    WHERE h.run_id = v.run_id AND h.event_type = 'rollout.succeeded'
                        AND convert_from(h.payload, 'UTF8')::jsonb @> jsonb_build_object(
                            'model', a.model, 'candidate_version', a.version, 'target', \(target)::text))
            ORDER BY a.model LIMIT \(min(max(limit, 1), 1000))
            """, logger: logger)
        var champions: [ServedChampion] = []
        for try await (name, version, uri, md5, isRollingOut) in rows.decode((String, Int, String, String?, Bool).self)
        {
            champions.append(
                ServedChampion(
                    model: name, version: version, artifactURI: uri, artifactMD5: md5, isRollingOut: isRollingOut))
        }
        return champions
    }

    /// Records that the sweeper deployed a champion again: `model.restored` to the outbox, keyed
    /// by the model, with subject `model/<model>`. No alias moves.
    public func recordRestore(_ restored: ModelRestored) async throws {
        try await transaction { connection in
            try await enqueueModelEvent(
                .modelRestored, model: restored.model, subject: "model/\(restored.model)", payload: restored,
                on: connection)
        }
    }
}
