import BatonCore
import Foundation
import PostgresNIO

/// A run or registered model the MLflow mirror set aside because MLflow refused it for good.
///
/// Its changes stay queued; the mirror skips them until `baton mirror retry` clears the parking.
public struct MLflowMirrorParked: Sendable, Hashable, Codable {
    /// What was parked.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A Baton run (its MLflow parent run and the nested runs of its attempts).
        case run
        /// A registered model (its versions and aliases).
        case model
    }

    /// Whether a run or a model was parked.
    public var kind: Kind
    /// The run id (lowercased) or the model's name.
    public var subject: String
    /// MLflow's refusal.
    public var error: String
    /// MLflow's `error_code`, e.g. `INVALID_PARAMETER_VALUE`.
    public var errorCode: String?
    /// When MLflow refused it.
    public var failedAt: Date

    /// A parking with the given fields.
    public init(kind: Kind, subject: String, error: String, errorCode: String?, failedAt: Date) {
        self.kind = kind
        self.subject = subject
        self.error = error
        self.errorCode = errorCode
        self.failedAt = failedAt
    }
}

extension MirrorStore {
    // MARK: - Parking

    /// The longest refusal stored, in bytes (MLflow's messages can quote a whole request).
    static let maxParkedErrorBytes = 4000

    /// Parks a run or model: the mirror skips its changes until they are retried. Parking an
    /// already parked subject records the newer refusal.
    public func parkMLflowMirror(
        _ kind: MLflowMirrorParked.Kind, subject: String, error: String, errorCode: String?
    ) async throws {
        let error = String(decoding: error.utf8.prefix(Self.maxParkedErrorBytes), as: UTF8.self)
        try await client.statement(
            """
            INSERT INTO mlflow_mirror_parked (kind, subject, error, error_code)
            VALUES (\(kind.rawValue), \(subject), \(error), \(errorCode))
            ON CONFLICT (kind, subject) DO UPDATE
                SET error = excluded.error, error_code = excluded.error_code, failed_at = now()
            """, logger: logger)
    }

    /// Every parked run and model, oldest refusal first.
    public func mlflowMirrorParked() async throws -> [MLflowMirrorParked] {
        let rows = try await client.statement(
            """
            SELECT kind, subject, error, error_code, failed_at FROM mlflow_mirror_parked
            ORDER BY failed_at, kind, subject
            """, logger: logger)
        return try await Self.parked(rows)
    }

    /// How many runs and models are parked now.
    public func mlflowMirrorParkedCounts() async throws -> [MLflowMirrorParked.Kind: Int] {
        let rows = try await client.statement(
            "SELECT kind, count(*)::int FROM mlflow_mirror_parked GROUP BY kind", logger: logger)
        var counts = Dictionary(uniqueKeysWithValues: MLflowMirrorParked.Kind.allCases.map { ($0, 0) })
        for try await (kind, count) in rows.decode((String, Int).self) {
            if let kind = MLflowMirrorParked.Kind(rawValue: kind) { counts[kind] = count }
        }
        return counts
    }

    /// Clears the parking of one subject (or of every parked one when `subject` is `nil`), queues
    /// it again and records who asked, in one statement.
    ///
    /// - Parameters:
    ///   - kind: only this kind; `nil` for both.
    ///   - subject: the run id (lowercased) or model name; `nil` for all of `kind`.
    ///   - actor: who asked (the CLI's `--actor` or `$USER`).
    /// - Returns: what was parked and is queued again now; empty when nothing matched.
    public func retryMLflowMirror(
        _ kind: MLflowMirrorParked.Kind?, subject: String?, actor: String
    ) async throws -> [MLflowMirrorParked] {
        // Queued again as well, in case nothing changed since the refusal (its queue may be empty).
        let rows = try await client.statement(
            """
            WITH cleared AS (
                DELETE FROM mlflow_mirror_parked
                WHERE (\(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue)::text)
                    AND (\(subject)::text IS NULL OR subject = \(subject)::text)
                RETURNING kind, subject, error, error_code, failed_at
            ), audit AS (
                INSERT INTO mlflow_mirror_retries (kind, subject, error, failed_at, actor)
                SELECT kind, subject, error, failed_at, \(actor) FROM cleared
            ), queued_runs AS (
                INSERT INTO mlflow_mirror_changes (run_id)
                SELECT r.id FROM runs r JOIN cleared c ON c.kind = 'run' AND c.subject = r.id::text
            ), queued_models AS (
                INSERT INTO mlflow_registry_changes (model)
                SELECT m.name FROM models m JOIN cleared c ON c.kind = 'model' AND c.subject = m.name
            )
            SELECT kind, subject, error, error_code, failed_at FROM cleared ORDER BY failed_at, kind, subject
            """, logger: logger)
        return try await Self.parked(rows)
    }

    private static func parked(_ rows: StatementRows) async throws -> [MLflowMirrorParked] {
        var parked: [MLflowMirrorParked] = []
        for try await (kind, subject, error, code, failedAt) in rows.decode(
            (String, String, String, String?, Date).self)
        {
            parked.append(
                MLflowMirrorParked(
                    kind: .init(rawValue: kind) ?? .run, subject: subject, error: error, errorCode: code,
                    failedAt: failedAt))
        }
        return parked
    }
}
