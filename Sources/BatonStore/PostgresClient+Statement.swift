import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs one statement on a pooled connection and reads its rows to the end before the
    /// connection goes back to the pool.
    ///
    /// Used instead of postgres-nio's `query`, which hangs forever when the pool hands out a
    /// connection the server has just closed (it does, for a moment, until it sees the close):
    /// here the statement goes through ``DatabaseSession``, which fails with `connection_lost`
    /// (retriable) instead. Reading to the end also surfaces an error that arrives after the row
    /// description (a statement timeout) to callers that ignore the rows.
    @discardableResult
    func statement(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line)
        async throws -> StatementRows
    {
        try await withConnection { connection in
            let rows = try await DatabaseSession(connection: connection).query(
                query, logger: logger, file: file, line: line)
            return StatementRows(rows: try await rows.collect())
        }
    }
}

/// The rows of one statement, read to the end; decode them as postgres-nio's row sequence
/// (`for try await (a, b) in rows.decode((A, B).self)`).
struct StatementRows: AsyncSequence, Sendable {
    typealias Element = PostgresRow

    let rows: [PostgresRow]

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[PostgresRow]>

        mutating func next() async -> PostgresRow? { base.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: rows.makeIterator()) }

    /// Every row.
    func collect() -> [PostgresRow] { rows }
}
