import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The store's transactions when the database ends the session in the middle (an operator's
/// `pg_terminate_backend`, a server shutting down): they end at once with a retriable error.
/// postgres-nio drops a statement written to a connection the server closed, and its caller
/// waits forever, deaf to cancellation: with postgres-nio's own `withTransaction` (its
/// `ROLLBACK`, its `COMMIT`), or postgres-nio's `query` on the pool afterwards, these tests
/// hang (a sweeper stopped sweeping; `serve` could not shut down).
@Suite("Transactions on a session that ends (real PostgreSQL)")
struct TransactionTests {
    /// What `operation` ended with, or `nil` when it had not ended after `limit`: a call that
    /// never returns fails the test instead of hanging it (its task is left behind).
    static func outcome(within limit: Duration, _ operation: @escaping @Sendable () async throws -> Void) async
        -> Result<Void, any Error>?
    {
        let (ends, end) = AsyncStream.makeStream(of: Result<Void, any Error>.self)
        Task {
            do {
                try await operation()
                end.yield(.success(()))
            } catch {
                end.yield(.failure(error))
            }
        }
        Task {
            try? await Task.sleep(for: limit)
            end.finish()
        }
        for await result in ends { return result }
        return nil
    }

    @Test("A session the server ends inside a transaction fails it at once, retriably, and the pool carries on")
    func sessionEndsMidTransaction() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let outcome = await Self.outcome(within: .seconds(15)) {
                try await store.client.withSession { session in
                    try await session.transaction(logger: TestStack.logger) { connection in
                        do {
                            try await connection.query(
                                "SELECT pg_terminate_backend(pg_backend_pid())", logger: TestStack.logger)
                        } catch {
                            // A busy host resumes the caller after the closed connection was torn down.
                            try? await Task.sleep(for: .milliseconds(500))
                            throw error
                        }
                    }
                }
            }
            let result = try #require(outcome, "the transaction did not end within 15 s")
            guard case .failure(let error) = result else {
                Issue.record("a transaction whose session was terminated succeeded")
                return
            }
            #expect(DatabaseSession.endedSession(error), "\(describeError(error))")
            #expect(DatabaseFailure.classify(error) == .transient)
            // The pool may hand out the ended connection again until it has seen the close (the
            // store's statement then fails with connection_lost; postgres-nio's own `query`
            // waited forever); it serves statements again within moments.
            var answered = 0
            var failures: [String] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while answered != 1, ContinuousClock.now < deadline {
                do {
                    let rows = try await store.client.statement("SELECT 1", logger: TestStack.logger)
                    for try await value in rows.decode(Int.self) { answered = value }
                } catch {
                    #expect(DatabaseFailure.classify(error) == .transient, "\(describeError(error))")
                    failures.append(describeError(error))
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(answered == 1, "the pool serves statements again (failures before: \(failures))")
        }
    }

    @Test(
        "A session ended between statements: the next statement, or COMMIT, fails with connection_lost (retriable); nothing was committed",
        arguments: [false, true])
    func sessionEndsBeforeCommit(statementAfterEnd: Bool) async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            try await store.client.query("CREATE TABLE commit_probe (id int)", logger: TestStack.logger)
            let outcome = await Self.outcome(within: .seconds(15)) {
                try await store.client.withSession { session in
                    try await session.transaction(logger: TestStack.logger) { connection in
                        var backend = 0
                        let rows = try await connection.query(
                            "INSERT INTO commit_probe VALUES (1) RETURNING pg_backend_pid()", logger: TestStack.logger)
                        for try await pid in rows.decode(Int.self) { backend = pid }
                        // Another session ends this one while it is idle in the transaction.
                        try await store.client.query(
                            "SELECT pg_terminate_backend(\(backend)::int)", logger: TestStack.logger)
                        try await Task.sleep(for: .milliseconds(500))
                        if statementAfterEnd {
                            try await connection.query("INSERT INTO commit_probe VALUES (2)", logger: TestStack.logger)
                        }
                    }
                }
            }
            let result = try #require(outcome, "the transaction did not end within 15 s")
            guard case .failure(let error) = result else {
                Issue.record("a transaction whose session ended before COMMIT reported success")
                return
            }
            #expect((error as? StoreError)?.code == .connectionLost, "\(describeError(error))")
            #expect(DatabaseFailure.classify(error) == .transient)
            let rows = try await store.client.query("SELECT count(*)::int FROM commit_probe", logger: TestStack.logger)
            var count = -1
            for try await value in rows.decode(Int.self) { count = value }
            #expect(count == 0)
        }
    }
}
