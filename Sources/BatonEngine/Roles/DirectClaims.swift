import Foundation
import Synchronization

/// The attempts this process claimed by a direct hand-off, whose `stage.ready` events are still
/// on their way: a worker that receives one drops it at once instead of trying a claim that can
/// only fail. Bounded: past `capacity`, the oldest are forgotten (their events then take the
/// database's answer, as after a restart or on another process).
final class DirectClaims: Sendable {
    private struct State {
        var claimed: Set<UUID> = []
        var order: [UUID] = []
        var next = 0
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    /// Records an attempt claimed by a direct hand-off.
    func insert(_ attemptID: UUID) {
        state.withLock { state in
            if state.order.count < capacity {
                state.order.append(attemptID)
            } else {
                state.claimed.remove(state.order[state.next])
                state.order[state.next] = attemptID
                state.next = (state.next + 1) % capacity
            }
            state.claimed.insert(attemptID)
        }
    }

    /// Whether the attempt was claimed here by a direct hand-off; forgets it (its one
    /// `stage.ready` has arrived).
    func remove(_ attemptID: UUID) -> Bool {
        state.withLock { $0.claimed.remove(attemptID) != nil }
    }
}
