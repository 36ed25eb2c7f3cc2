import BatonCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import BatonEngine
@testable import BatonStore

/// The lease keeper's decisions against an in-memory store (no server): when to stop the work,
/// and when to keep trying. The real-PostgreSQL behaviour is in `LeaseKeeperTests`.
@Suite("Lease keeper logic (in-memory store)", .timeLimit(.minutes(1)))
struct LeaseKeeperLogicTests {
    /// Answers renewals from a script: `true` (held), `false` (lost), or a failure.
    final class ScriptedLeases: LeaseRenewing {
        enum Answer: Sendable {
            case held, lost, failure
        }
        struct Unavailable: Error {}

        private let state: Mutex<(script: [Answer], calls: Int)>
        init(_ script: [Answer]) { state = Mutex((script, 0)) }
        var calls: Int { state.withLock { $0.calls } }

        func renewLease(_ claim: ClaimedAttempt, lease: Duration) async throws -> Bool {
            let answer = state.withLock { state -> Answer in
                state.calls += 1
                return state.script.isEmpty ? .held : state.script.removeFirst()
            }
            switch answer {
            case .held: return true
            case .lost: return false
            case .failure: throw Unavailable()
            }
        }
    }

    static let claim = ClaimedAttempt(
        id: UUID(), runID: UUID(), stage: "s", attempt: 1, epoch: 1, deadline: .distantFuture, specYAML: "",
        params: [:], pipeline: "p", pool: "cpu", claimableAt: .now, startedAt: .now)

    func keeper(_ leases: ScriptedLeases, interval: Duration = .milliseconds(20)) -> LeaseKeeper {
        LeaseKeeper(attempts: leases, lease: .seconds(1), interval: interval, logger: .init(label: "test"))
    }

    @Test("A lost lease cancels the work and throws LeaseLost")
    func lostLease() async throws {
        let leases = ScriptedLeases([.held, .held, .lost])
        let started = ContinuousClock.now
        await #expect(throws: LeaseKeeper.LeaseLost.self) {
            try await keeper(leases).run(Self.claim) {
                try await Task.sleep(for: .seconds(30))
                return 1
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5), "the body was cancelled, not waited for")
        #expect(leases.calls == 3)
    }

    @Test("A failed renewal is tried again; the work's result comes back while the lease is held")
    func failuresAreRetried() async throws {
        let leases = ScriptedLeases([.failure, .failure, .held])
        let result = try await keeper(leases).run(Self.claim) {
            // Runs until the keeper has renewed past both failures, however slow the machine.
            while leases.calls < 3 { try await Task.sleep(for: .milliseconds(10)) }
            return 42
        }
        #expect(result == 42)
        #expect(leases.calls >= 3)
    }

    @Test("Work that ends before the first renewal is not renewed")
    func shortWork() async throws {
        let leases = ScriptedLeases([.lost])
        // A first renewal due in 10 s, well after the work ends however loaded the machine is.
        #expect(try await keeper(leases, interval: .seconds(10)).run(Self.claim) { 7 } == 7)
        #expect(leases.calls == 0)
    }
}
