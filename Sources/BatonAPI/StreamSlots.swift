import Synchronization

/// A bound on long answers open at once (followed job logs): each holds a ``Slot`` for as long
/// as its body is read, and gives it back when the body is released, ended or abandoned.
final class StreamSlots: Sendable {
    /// The most slots out at once.
    let limit: Int
    private let taken = Atomic<Int>(0)

    init(limit: Int) { self.limit = max(limit, 1) }

    /// A slot, or nil when all ``limit`` are out.
    func take() -> Slot? {
        var current = taken.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = taken.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return Slot(owner: self) }
            current = original
        }
        return nil
    }

    /// Slots out now.
    var count: Int { taken.load(ordering: .relaxed) }

    /// One open answer's claim; released with the last reference to it.
    final class Slot: Sendable {
        private let owner: StreamSlots

        fileprivate init(owner: StreamSlots) { self.owner = owner }

        deinit { owner.taken.subtract(1, ordering: .acquiringAndReleasing) }
    }
}
