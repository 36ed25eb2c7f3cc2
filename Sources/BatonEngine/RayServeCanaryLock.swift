import BatonStore

/// Serialises the read-modify-write of one Ray Serve's applications among every Baton process
/// that rolls models out to it.
///
/// Serve's REST API replaces the whole set of applications with each PUT and offers no
/// compare-and-swap, so two rollouts that each GET the set, change their own model and PUT it
/// back would drop each other's applications. Holding this lock from the GET to the end of the
/// PUT makes every rollout build on the set the previous one left.
public protocol RayServeCanaryLock: Sendable {
    /// Runs `body` while no other holder of `key` runs.
    func withRayServeLock<Result: Sendable>(
        _ key: String, _ body: @Sendable () async throws -> Result
    ) async throws -> Result
}

/// PostgreSQL's advisory lock: every Baton process sharing the database takes turns.
extension BatonStore: RayServeCanaryLock {
    public func withRayServeLock<Result: Sendable>(
        _ key: String, _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withAdvisoryLock(key, body)
    }
}
