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
                        try await store.messaging.withLock(
                            "baton/ray-serve-applications/test", waitingAtMost: .seconds(30)
                        ) {
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

    @Test("A holder waits its turn past the sessions' statement timeout; a wait past its bound fails, and nothing ran")
    func waitOutlastsStatementTimeout() async throws {
        let database = try await ScratchDatabase.create()
        let overlap = Overlap()
        let key = "baton/ray-serve-applications/slow"
        try await database.withStore(topics: EventTopics(prefix: "lock"), statementTimeout: .seconds(1)) { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await store.messaging.withLock(key, waitingAtMost: .seconds(30)) {
                            await overlap.enter()
                            // Longer than the statement timeout, as a Serve PUT that starts Serve.
                            try await Task.sleep(for: .milliseconds(2500))
                            await overlap.leave()
                        }
                    }
                }
                try await group.waitForAll()
            }
            // A holder past the waiter's bound: the waiter fails and its body never runs.
            let ran = Overlap()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await store.messaging.withLock(key, waitingAtMost: .seconds(30)) {
                        try await Task.sleep(for: .seconds(3))
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
                let error = await #expect(throws: StoreError.self) {
                    try await store.messaging.withLock(key, waitingAtMost: .milliseconds(500)) { await ran.enter() }
                }
                #expect(error?.code == .lockBusy && error?.isRetriable == true)
                #expect(error?.reason.contains("not free within 500ms") == true, "\(error?.reason ?? "")")
                try await group.waitForAll()
            }
            #expect(await ran.most == 0)
        }
        #expect(await overlap.most == 1)
    }
}
