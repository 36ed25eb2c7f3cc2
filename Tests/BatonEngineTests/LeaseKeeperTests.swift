import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Synchronization
import Testing

@testable import BatonEngine
@testable import BatonStore

/// The one lease keeper every long-running executor uses, against the real PostgreSQL.
@Suite("Lease keeper", .serialized, .timeLimit(.minutes(2)))
struct LeaseKeeperTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: leased}
        stages:
          - {name: only, kind: noop}
        """

    /// The test's own setup did not go as planned.
    struct Precondition: Error {}

    /// Whether the body saw its cancellation.
    final class Flag: Sendable {
        private let state = Mutex(false)
        var isSet: Bool { state.withLock { $0 } }
        func set() { state.withLock { $0 = true } }
    }

    /// A claimed attempt of a fresh run, with a lease of `lease`.
    func claim(_ store: BatonStore, lease: Duration) async throws -> ClaimedAttempt {
        let event = try CloudEvent(
            source: "test", type: .pipelineRequested, payload: PipelineRequested(spec: Self.spec))
        guard case .created(let runID) = try await store.runs.handleRequest(consumer: "c", policy: .tests, event: event)
        else {
            throw LeaseKeeperTests.Precondition()
        }
        let rows = try await store.client.query(
            "SELECT id FROM stage_attempts WHERE run_id = \(runID) AND state = 'queued'")
        for try await id in rows.decode(UUID.self) {
            return try #require(try await store.attempts.claimAttempt(id, owner: "keeper-test", lease: lease))
        }
        throw LeaseKeeperTests.Precondition()
    }

    /// When the attempt's lease expires, in seconds since the epoch (PostgreSQL's clock).
    func leaseExpiry(_ store: BatonStore, _ claim: ClaimedAttempt) async throws -> Double {
        let rows = try await store.client.query(
            "SELECT extract(epoch FROM lease_expires_at)::float8 FROM stage_attempts WHERE id = \(claim.id)")
        for try await expiry in rows.decode(Double.self) { return expiry }
        throw LeaseKeeperTests.Precondition()
    }

    @Test("Renews the lease while the body runs, and stops renewing when it returns")
    func renewsWhileRunning() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let claim = try await claim(store, lease: .seconds(1))
            let claimed = try await leaseExpiry(store, claim)
            let keeper = LeaseKeeper(
                attempts: store.attempts, lease: .seconds(1), interval: .milliseconds(200), logger: TestStack.logger)
            // The body outlives the claim's own lease more than twice over.
            let answer = try await keeper.run(claim) {
                try await Task.sleep(for: .milliseconds(2500))
                return 42
            }
            #expect(answer == 42)
            // Renewed while the body ran, the last time no earlier than 1.5 s after the claim
            // (however loaded the machine, sleeping 2.5 s takes at least 2.5 s).
            let renewed = try await leaseExpiry(store, claim)
            #expect(renewed - claimed > 1.5, "lease moved on by \(renewed - claimed) s")
            // The keeper has stopped renewing when run returns: the expiry stays where it is.
            try await Task.sleep(for: .milliseconds(1000))
            #expect(try await leaseExpiry(store, claim) == renewed)
        }
    }

    @Test("A lost lease cancels the body and throws LeaseLost; the body's own error otherwise")
    func lostLease() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let claim = try await claim(store, lease: .seconds(30))
            let keeper = LeaseKeeper(
                attempts: store.attempts, lease: .seconds(30), interval: .milliseconds(100), logger: TestStack.logger)
            let cancelled = Flag()
            let started = ContinuousClock.now
            // Another owner takes the attempt over: the epoch moves on.
            try await store.client.query(
                "UPDATE stage_attempts SET lease_epoch = lease_epoch + 1 WHERE id = \(claim.id)")
            await #expect(throws: LeaseKeeper.LeaseLost.self) {
                try await keeper.run(claim) {
                    do {
                        try await Task.sleep(for: .seconds(30))
                    } catch {
                        cancelled.set()
                        throw error
                    }
                }
            }
            #expect(cancelled.isSet, "the body was cancelled")
            #expect(ContinuousClock.now - started < .seconds(5))

            struct BodyFailed: Error {}
            let held = try await self.claim(store, lease: .seconds(30))
            await #expect(throws: BodyFailed.self) {
                try await keeper.run(held) { throw BodyFailed() }
            }
        }
    }
}
