import BatonCore
import BatonKafka
import Metrics
import Synchronization

/// Sets `baton_consumer_lag_messages` for one consumer group from librdkafka's statistics: each
/// partition this process holds gets its lag, and one it no longer holds goes to 0 (its new
/// owner reports it), so a revoked partition never shows a stale lag.
final class ConsumerLag: Sendable {
    private let group: String
    private let reported = Mutex<Set<TopicPartition>>([])

    private struct TopicPartition: Hashable {
        var topic: String
        var partition: Int32
    }

    /// Reports the lag of the group `group`.
    init(group: String) {
        self.group = group
    }

    /// Records one statistics report.
    func record(_ statistics: KafkaConsumerStatistics) {
        let held = Set(statistics.partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition) })
        let dropped = reported.withLock { reported in
            let dropped = reported.subtracting(held)
            reported = held
            return dropped
        }
        for partition in statistics.partitions {
            // Nothing committed yet: everything from the next fetch to the end is still to consume.
            let lag = partition.lag >= 0 ? partition.lag : max(0, partition.end - max(0, partition.nextOffset))
            gauge(partition.topic, partition.partition).record(lag)
        }
        for partition in dropped { gauge(partition.topic, partition.partition).record(0) }
    }

    private func gauge(_ topic: String, _ partition: Int32) -> Gauge {
        EngineMetrics.gauge(MetricCatalog.consumerLag, group, topic, "\(partition)")
    }
}
