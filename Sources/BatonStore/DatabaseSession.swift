import BatonCore
import Logging
import PostgresNIO

/// One PostgreSQL session (a pooled connection) as the store's SQL uses it: once the server has
/// ended the session, a statement fails at once with ``StoreError`` `connection_lost`
/// (retriable) instead of being sent.
///
/// postgres-nio (1.33) drops a statement written to a connection the server has closed
/// (`FATAL: terminating connection due to administrator command`, a server shutting down, a
/// failover), and its caller then waits forever, deaf to cancellation: a sweeper whose
/// transaction lost its session never swept again, and `serve` could not shut down. The server
/// rolls back a session that ended, so there is nothing left to send.
struct DatabaseSession: Sendable {
    let connection: PostgresConnection

    /// Runs `query` and hands back its rows.
    ///
    /// - Throws: `connection_lost` when the session has ended; else postgres-nio's error.
    @discardableResult
    func query(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws
        -> PostgresRowSequence
    {
        try requireOpen()
        return try await connection.query(query, logger: logger, file: file, line: line)
    }

    /// Runs `query` and reads its rows to the end. postgres-nio hands an error that arrives after
    /// the row description (a lock or statement timeout, a deadlock) only to the reader of the
    /// rows: a statement whose rows nobody needs (`SELECT pg_advisory_xact_lock(…)`, `SELECT … FOR
    /// UPDATE`) would fail unseen, and its caller go on without the lock it asked for.
    @discardableResult
    func statement(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line)
        async throws -> StatementRows
    {
        StatementRows(rows: try await self.query(query, logger: logger, file: file, line: line).collect())
    }

    /// Calls `notify` at every notification on `channel` until the session ends (it throws) or
    /// the task is cancelled; then stops listening.
    ///
    /// - Throws: `connection_lost` when the session had ended before; else postgres-nio's error.
    func listen(_ channel: String, _ notify: () -> Void) async throws {
        try requireOpen()
        try await connection.listen(on: channel) { notifications in
            for try await _ in notifications { notify() }
        }
    }

    /// Runs `body` between `BEGIN` and `COMMIT`, and rolls back when it throws; rethrows the
    /// body's own error. After an error that ended the session nothing is sent (not the
    /// `ROLLBACK` postgres-nio's `withTransaction` sends).
    ///
    /// - Throws: the body's error; a `BEGIN` or `COMMIT` failure; `connection_lost` when the
    ///   session ended before `COMMIT` was sent, so nothing was committed.
    func transaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (DatabaseSession) async throws -> sending Result
    ) async throws -> sending Result {
        try await query("BEGIN", logger: logger)
        let result: Result
        do {
            result = try await body(self)
        } catch {
            if !connection.isClosed, !Self.endedSession(error) {
                do {
                    try await query("ROLLBACK", logger: logger)
                } catch let rollbackError {
                    logger.debug("rollback failed", metadata: [LogKeys.error: "\(describeError(rollbackError))"])
                }
            }
            throw error
        }
        try await query("COMMIT", logger: logger)
        return result
    }

    private func requireOpen() throws(StoreError) {
        guard !connection.isClosed else {
            throw .connectionLost("the database session ended (the server closed the connection)")
        }
    }

    /// Whether `error` ended the session: a connection that closed or failed, a server error of
    /// severity `FATAL` or `PANIC` (the server closes the connection after it), or `connection_lost`.
    static func endedSession(_ error: any Error) -> Bool {
        if let error = error as? StoreError { return error.code == .connectionLost }
        guard let error = error as? PSQLError else { return false }
        guard error.code == .server else { return true }
        let severity = error.serverInfo?[.severity] ?? error.serverInfo?[.localizedSeverity]
        return severity == "FATAL" || severity == "PANIC"
    }
}
