import PostgresNIO

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
