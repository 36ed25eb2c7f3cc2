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
        _ key: String, waitingAtMost wait: Duration, _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        try await transaction { connection in
            // The wait is the lock's own, not the session's statement timeout: a holder keeps the
            // lock for as long as its body runs (a Serve PUT that starts Serve: ~40 s on a busy head).
            let milliseconds = "\(max(1, Int(wait.milliseconds)))"
            try await connection.statement(
                """
                SELECT set_config('lock_timeout', \(milliseconds), true),
                       set_config('statement_timeout', \(milliseconds), true)
                """, logger: logger)
            do {
                try await connection.statement(
                    "SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))", logger: logger)
            } catch {
                throw StoreError.lockBusy(
                    "lock \(key) not free within \(DurationParsing.format(wait)): \(describeError(error))")
            }
            return try await body()
        }
    }
}
