import Synchronization

/// The partitions a consumer's latest statistics found it positioned past the end of (the
/// broker lost records the group had read), noted on the poll thread by the statistics
/// callback and taken by the poll loop, which starts them again.
final class KafkaPartitionsPastEnd: Sendable {
    private let noted = Mutex<[KafkaConsumerStatistics.Partition]>([])

    /// Notes the partitions of a statistics report that are past their end.
    func note(_ statistics: KafkaConsumerStatistics) {
        let past = statistics.partitions.filter(\.isPastEnd)
        noted.withLock { $0 = past }
    }

    /// The partitions noted since the last call, emptying the list.
    func take() -> [KafkaConsumerStatistics.Partition] {
        noted.withLock { noted in
            defer { noted = [] }
            return noted
        }
    }
}
