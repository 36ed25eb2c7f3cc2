import Logging
import PostgresNIO

extension PostgresConnection {
    /// Runs a statement whose rows nobody needs (`SELECT pg_advisory_xact_lock(…)`, `SELECT … FOR
    /// UPDATE`) and reads its answer to the end. postgres-nio hands an error that arrives after the
    /// row description (a lock or statement timeout, a deadlock) only to the reader of the rows:
    /// a statement left unread fails unseen, and its caller would go on without the lock it asked for.
    func perform(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
