import BatonCore
import Foundation
import PostgresNIO

/// A registered model as the MLflow mirror needs it, with what MLflow was last told about it.
public struct MLflowMirrorModel: Sendable {
    /// The registered model's name.
    public var name: String
    /// Whether MLflow has the registered model.
    public var isRegistered: Bool
    /// Every version, oldest first.
    public var versions: [Version]
    /// Alias -> Baton version, as PostgreSQL has them.
    public var aliases: [String: Int]
    /// Alias -> Baton version, as MLflow was last told.
    public var mirroredAliases: [String: Int]

    /// A version with what MLflow needs to make it.
    public struct Version: Sendable {
        /// Baton's version number, from 1 per model.
        public var version: Int
        /// The run whose `register` stage made the version.
        public var runID: UUID
        /// The `register` stage's name.
        public var stage: String
        /// The `register` attempt that made the version.
        public var attemptID: UUID
        /// Where the registered artifact is.
        public var artifactURI: String
        /// MD5 of the registered artifact; nil when the job reported none.
        public var artifactMD5: String?
        /// MLflow's number of the version, once made.
        public var mlflowVersion: String?
        /// The MLflow run the mirror made for the register attempt, else for the run; `nil` while
        /// neither is mirrored yet.
        public var mlflowRunID: String?
    }
}

extension MirrorStore {
    /// The oldest queued registry changes, grouped by model, oldest model first; parked models'
    /// changes stay queued but are left out until `baton mirror retry` clears the parking.
    public func mlflowRegistryChanges(limit: Int) async throws -> [(model: String, changeIDs: [Int64])] {
        let rows = try await client.statement(
            """
            SELECT model, array_agg(id) FROM (
                SELECT c.id, c.model FROM mlflow_registry_changes c
                WHERE NOT EXISTS (
                    SELECT 1 FROM mlflow_mirror_parked p WHERE p.kind = 'model' AND p.subject = c.model)
                ORDER BY c.id LIMIT \(limit)
            ) c GROUP BY model ORDER BY min(id)
            """, logger: logger)
        var changes: [(model: String, changeIDs: [Int64])] = []
        for try await (model, ids) in rows.decode((String, [Int64]).self) { changes.append((model, ids)) }
        return changes
    }

    /// Deletes registry changes the mirror brought into MLflow (changes made since stay queued).
    public func deleteMLflowRegistryChanges(_ ids: [Int64]) async throws {
        try await client.statement("DELETE FROM mlflow_registry_changes WHERE id = ANY(\(ids))", logger: logger)
    }

    /// Model `name` with its versions, aliases and what MLflow was last told; `nil` if it is gone.
    public func mlflowMirrorModel(_ name: String) async throws -> MLflowMirrorModel? {
        var model: MLflowMirrorModel?
        let rows = try await client.statement(
            """
            SELECT EXISTS (SELECT 1 FROM mlflow_registered_models WHERE model = m.name) FROM models m
            WHERE m.name = \(name)
            """, logger: logger)
        for try await registered in rows.decode(Bool.self) {
            model = MLflowMirrorModel(
                name: name, isRegistered: registered, versions: [], aliases: [:], mirroredAliases: [:])
        }
        guard var model else { return nil }
        let versions = try await client.statement(
            """
            SELECT v.version, v.run_id, v.stage, v.attempt_id, f.uri, f.md5, mv.mlflow_version,
                   coalesce(ma.mlflow_run_id, mr.mlflow_run_id)
            FROM model_versions v JOIN artifacts f ON f.id = v.artifact_id
            LEFT JOIN mlflow_model_versions mv ON mv.model = v.model AND mv.version = v.version
            LEFT JOIN mlflow_attempts ma ON ma.attempt_id = v.attempt_id
            LEFT JOIN mlflow_runs mr ON mr.run_id = v.run_id
            WHERE v.model = \(name) ORDER BY v.version
            """, logger: logger)
        for try await (version, runID, stage, attemptID, uri, md5, mlflowVersion, mlflowRunID) in versions.decode(
            (Int, UUID, String, UUID, String, String?, String?, String?).self)
        {
            model.versions.append(
                .init(
                    version: version, runID: runID, stage: stage, attemptID: attemptID, artifactURI: uri,
                    artifactMD5: md5, mlflowVersion: mlflowVersion, mlflowRunID: mlflowRunID))
        }
        let aliases = try await client.statement(
            """
            SELECT alias, version, false FROM model_aliases WHERE model = \(name)
            UNION ALL
            SELECT alias, version, true FROM mlflow_model_aliases WHERE model = \(name)
            """, logger: logger)
        for try await (alias, version, mirrored) in aliases.decode((String, Int, Bool).self) {
            if mirrored {
                model.mirroredAliases[alias] = version
            } else {
                model.aliases[alias] = version
            }
        }
        return model
    }

    /// Stores that MLflow has registered model `name`.
    public func recordMLflowRegisteredModel(_ name: String) async throws {
        try await client.statement(
            "INSERT INTO mlflow_registered_models (model) VALUES (\(name)) ON CONFLICT DO NOTHING", logger: logger)
    }

    /// Stores MLflow's number of version `version` of `model`.
    public func recordMLflowModelVersion(_ model: String, version: Int, mlflowVersion: String) async throws {
        try await client.statement(
            """
            INSERT INTO mlflow_model_versions (model, version, mlflow_version)
            VALUES (\(model), \(version), \(mlflowVersion)) ON CONFLICT (model, version) DO NOTHING
            """, logger: logger)
    }

    /// Stores where MLflow's alias points now (a Baton version), or that it was deleted (`nil`).
    public func recordMLflowModelAlias(_ model: String, alias: String, version: Int?) async throws {
        if let version {
            try await client.statement(
                """
                INSERT INTO mlflow_model_aliases (model, alias, version) VALUES (\(model), \(alias), \(version))
                ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version
                """, logger: logger)
        } else {
            try await client.statement(
                "DELETE FROM mlflow_model_aliases WHERE model = \(model) AND alias = \(alias)", logger: logger)
        }
    }
}
