import BatonCore
import PostgresNIO

extension MessagingStore: DistributedLock {
    /// Runs `body` while holding a PostgreSQL advisory lock named `key`, in a transaction that
    /// ends with `body`: every Baton process that takes the same key waits its turn, and a process
    /// that dies releases the lock with its connection.
    ///
    /// The Ray Serve canary holds it for the read-modify-write of Serve's applications (Serve's
    /// PUT replaces every application, so two interleaved ones would drop each other's).
    ///
    /// - Important: `body` holds a pooled connection for its whole length; keep it short and bounded.
    public func withLock<Result: Sendable>(
        _ key: String, _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        try await transaction { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))", logger: logger)
            return try await body()
        }
    }
}
