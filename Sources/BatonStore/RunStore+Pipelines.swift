import BatonCore
import Crypto
import Foundation
import PostgresNIO

/// One applied version of a pipeline spec.
public struct PipelineVersion: Sendable, Hashable {
    /// The pipeline's name (`metadata.name`).
    public var name: String
    /// The version number, from 1 per pipeline.
    public var version: Int
    /// The spec as applied.
    public var yaml: String
    /// When the version was applied.
    public var createdAt: Date
}

extension RunStore {
    /// Stores a spec as the next version of its pipeline, unless an identical spec is stored.
    ///
    /// - Returns: the version, and whether it is new.
    /// - Throws: `SpecError` when the spec is invalid (nothing is stored).
    public func applyPipeline(yaml: String) async throws -> (version: PipelineVersion, isNew: Bool) {
        let spec = try PipelineSpecCache.shared.spec(yaml)
        let digest = SHA256.hash(data: Data(yaml.utf8)).map { String(format: "%02x", $0) }.joined()
        return try await transaction { connection in
            // Serialise version numbering per pipeline name.
            try await connection.statement("SELECT pg_advisory_xact_lock(hashtext(\(spec.name)))", logger: logger)
            let existing = try await connection.query(
                "SELECT version, created_at FROM pipelines WHERE name = \(spec.name) AND spec_sha256 = \(digest)",
                logger: logger)
            for try await (version, createdAt) in existing.decode((Int, Date).self) {
                return (PipelineVersion(name: spec.name, version: version, yaml: yaml, createdAt: createdAt), false)
            }
            let rows = try await connection.query(
                """
                INSERT INTO pipelines (name, version, spec_yaml, spec_sha256)
                SELECT \(spec.name), coalesce(max(version), 0) + 1, \(yaml), \(digest) FROM pipelines WHERE name = \(spec.name)
                RETURNING version, created_at
                """, logger: logger)
            for try await (version, createdAt) in rows.decode((Int, Date).self) {
                return (PipelineVersion(name: spec.name, version: version, yaml: yaml, createdAt: createdAt), true)
            }
            throw StoreError.notFound("pipeline insert returned no row")
        }
    }

    /// A pipeline version; the latest when `version` is nil.
    public func pipeline(named name: String, version: Int? = nil) async throws -> PipelineVersion? {
        try await pipeline(named: name, version: version, on: nil)
    }

    func pipeline(named name: String, version: Int?, on connection: DatabaseSession?) async throws
        -> PipelineVersion?
    {
        let query: PostgresQuery = """
            SELECT name, version, spec_yaml, created_at FROM pipelines
            WHERE name = \(name) AND (\(version)::integer IS NULL OR version = \(version))
            ORDER BY version DESC LIMIT 1
            """
        let rows =
            if let connection {
                try await connection.statement(query, logger: logger)
            } else {
                try await client.statement(query, logger: logger)
            }
        for try await (name, version, yaml, createdAt) in rows.decode((String, Int, String, Date).self) {
            return PipelineVersion(name: name, version: version, yaml: yaml, createdAt: createdAt)
        }
        return nil
    }

    /// The latest version of every pipeline, by name.
    public func listPipelines() async throws -> [PipelineVersion] {
        let rows = try await client.statement(
            """
            SELECT DISTINCT ON (name) name, version, spec_yaml, created_at FROM pipelines
            ORDER BY name, version DESC
            """, logger: logger)
        var result: [PipelineVersion] = []
        for try await (name, version, yaml, createdAt) in rows.decode((String, Int, String, Date).self) {
            result.append(PipelineVersion(name: name, version: version, yaml: yaml, createdAt: createdAt))
        }
        return result
    }
}
