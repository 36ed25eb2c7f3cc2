/// A lock that every process sharing one backing service takes turns on, by key.
///
/// Baton's store implements it with PostgreSQL advisory locks; platform drivers use it where a
/// remote API offers no compare-and-swap (Ray Serve's applications are replaced whole by each
/// PUT, so two rollouts must not interleave their read-modify-write).
public protocol DistributedLock: Sendable {
    /// Runs `body` while no other holder of `key`, in any process, runs; waits at most `wait` for
    /// its turn.
    ///
    /// - Throws: what `body` throws, or the lock's own error when it cannot be taken within
    ///   `wait` (then `body` never ran).
    func withLock<Result: Sendable>(
        _ key: String, waitingAtMost wait: Duration, _ body: @Sendable () async throws -> Result
    ) async throws -> Result
}
