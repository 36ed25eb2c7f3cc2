import Synchronization

// MARK: - KafkaConsumerAssignment

/// The partitions a consumer owns now, kept from its rebalance callbacks.
final class KafkaConsumerAssignment: Sendable {
    private let partitions = Mutex<Set<KafkaTopicPartition>>([])

    /// Applies an assignment change.
    func apply(_ event: RDKafkaRebalanceEvent) {
        partitions.withLock { partitions in
            switch event {
            case .assigned(let added):
                partitions.formUnion(added)
            case .revoked(let removed, _):
                partitions.subtract(removed)
            }
        }
    }

    /// Removes everything (the consumer closed).
    func clear() {
        partitions.withLock { $0.removeAll() }
    }

    /// The owned partitions, ordered by topic and partition.
    var snapshot: [KafkaTopicPartition] {
        partitions.withLock { $0 }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }
}
