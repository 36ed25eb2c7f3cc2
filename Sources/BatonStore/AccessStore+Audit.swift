import BatonCore
import Foundation
import PostgresNIO

extension AccessStore {
    /// Appends a row to the audit log.
    public func audit(
        _ caller: Caller, action: String, target: String?, outcome: String, detail: [String: JSONValue] = [:]
    ) async throws {
        try await client.withSession { session in
            try await audit(caller, action: action, target: target, outcome: outcome, detail: detail, on: session)
        }
    }

    /// Appends a row to the audit log in a transaction of the caller's.
    func audit(
        _ caller: Caller, action: String, target: String?, outcome: String, detail: [String: JSONValue],
        on connection: DatabaseSession
    ) async throws {
        let detailJSON = String(decoding: try CloudEvent.encode(detail), as: UTF8.self)
        try await connection.query(
            """
            INSERT INTO audit_log (actor, token_id, action, target, outcome, detail)
            VALUES (\(caller.name), \(caller.tokenID), \(action), \(target), \(outcome), \(detailJSON)::jsonb)
            """, logger: logger)
    }

    /// The most recent audit rows, newest first; only those about `target` when it is given.
    public func auditLog(target: String? = nil, limit: Int = 100) async throws -> [AuditEntry] {
        let rows = try await client.statement(
            """
            SELECT id, at, actor, action, target, outcome, detail::text FROM audit_log
            WHERE \(target)::text IS NULL OR target = \(target)
            ORDER BY id DESC LIMIT \(min(max(limit, 1), 1000))
            """, logger: logger)
        var entries: [AuditEntry] = []
        for try await (id, at, actor, action, target, outcome, detail) in rows.decode(
            (Int64, Date, String, String, String?, String, String).self)
        {
            entries.append(
                AuditEntry(
                    id: id, at: at, actor: actor, action: action, target: target, outcome: outcome,
                    detail: try JSONDecoder().decode([String: JSONValue].self, from: Data(detail.utf8))))
        }
        return entries
    }
}
