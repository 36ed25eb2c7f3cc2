import BatonCore
import BatonStore
import BatonTestSupport
import Testing

/// The store's ``DistributedLock`` (PostgreSQL advisory locks), which keeps two rollouts from
/// dropping each other's Ray Serve applications.
@Suite("Distributed lock (real PostgreSQL)")
struct DistributedLockTests {
    /// How many holders were inside at once.
    actor Overlap {
        private(set) var inside = 0
        private(set) var most = 0
        func enter() {
            inside += 1
            most = max(most, inside)
        }
        func leave() { inside -= 1 }
    }

    @Test("Two holders of one lock key never overlap, across connections")
    func lockSerialises() async throws {
        let database = try await ScratchDatabase.create()
        let overlap = Overlap()
        try await database.withStore(topics: EventTopics(prefix: "lock")) { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await store.messaging.withLock("baton/ray-serve-applications/test") {
                            await overlap.enter()
                            try await Task.sleep(for: .milliseconds(150))
                            await overlap.leave()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(await overlap.most == 1)
    }
}
