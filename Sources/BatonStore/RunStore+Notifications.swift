import BatonCore
import Foundation
import PostgresNIO

extension RunStore {
    /// A run's pipeline and spec, as stored with the run; nil for an unknown run.
    public func pipelineAndSpec(of runID: UUID) async throws -> (pipeline: String, specYAML: String)? {
        let rows = try await client.statement(
            "SELECT pipeline_name, spec_yaml FROM runs WHERE id = \(runID)", logger: logger)
        for try await row in rows.decode((String, String).self) { return row }
        return nil
    }

    /// Claims the notification of event `eventID` to `target`: `false` when it was claimed
    /// before (the event was delivered to the notifier again), and then nothing is sent.
    public func claimNotification(eventID: String, target: String, runID: UUID, eventType: String) async throws
        -> Bool
    {
        let rows = try await client.statement(
            """
            INSERT INTO notifications (event_id, target, run_id, event_type, state)
            VALUES (\(eventID), \(target), \(runID), \(eventType), 'sending')
            ON CONFLICT DO NOTHING RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Records how a claimed notification ended.
    public func finishNotification(eventID: String, target: String, attempts: Int, error: String?) async throws {
        try await client.statement(
            """
            UPDATE notifications SET state = \(error == nil ? "delivered" : "failed"), attempts = \(attempts),
                error = \(error.map { String($0.prefix(1000)) }), delivered_at = CASE WHEN \(error == nil) THEN now() END
            WHERE event_id = \(eventID) AND target = \(target)
            """, logger: logger)
    }
}
