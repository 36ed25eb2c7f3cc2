import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` on a pooled connection, as a ``DatabaseSession``: every statement the store
    /// sends goes through one, never through postgres-nio's connection or `query` directly.
    func withSession<Result>(
        isolation: isolated (any Actor)? = #isolation, _ body: (DatabaseSession) async throws -> sending Result
    ) async throws -> sending Result {
        try await withConnection { connection in try await body(DatabaseSession(connection: connection)) }
    }

    /// Runs one statement on a pooled connection and reads its rows to the end before the
    /// connection goes back to the pool (``DatabaseSession/statement(_:logger:file:line:)``).
    ///
    /// Used instead of postgres-nio's `query`, which hangs forever when the pool hands out a
    /// connection the server has just closed (it does, for a moment, until it sees the close):
    /// the session fails with `connection_lost` (retriable) instead.
    @discardableResult
    func statement(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line)
        async throws -> StatementRows
    {
        try await withSession { try await $0.statement(query, logger: logger, file: file, line: line) }
    }
}
