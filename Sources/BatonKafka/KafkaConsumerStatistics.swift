import Foundation

/// What librdkafka's statistics (`statistics.interval.ms`) say about the partitions a consumer
/// holds: how far behind the group's committed offset is, and whether the partition fetches.
public struct KafkaConsumerStatistics: Sendable, Hashable {
    /// One partition this consumer is assigned.
    public struct Partition: Sendable, Hashable {
        /// The topic.
        public var topic: String
        /// The partition number.
        public var partition: Int32
        /// Records between the committed offset and the end of the partition (`consumer_lag`).
        public var lag: Int64
        /// librdkafka's fetch state, e.g. `active`, `offset-query`, `stopped`.
        public var fetchState: String
    }

    /// The partitions whose lag librdkafka knows, in topic and partition order.
    public var partitions: [Partition]

    /// Reads librdkafka's statistics JSON; partitions this consumer does not hold (lag -1) and
    /// librdkafka's internal partition -1 are left out.
    ///
    /// - Throws: `DecodingError` when `json` is not librdkafka's statistics.
    public init(json: Data) throws {
        let raw = try JSONDecoder().decode(Raw.self, from: json)
        partitions = (raw.topics ?? [:]).flatMap { topic, entry in
            (entry.partitions ?? [:]).values.compactMap { partition -> Partition? in
                guard partition.partition >= 0, let lag = partition.consumer_lag, lag >= 0 else { return nil }
                return Partition(
                    topic: topic, partition: partition.partition, lag: lag, fetchState: partition.fetch_state ?? "")
            }
        }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    /// The fields read from librdkafka's statistics (STATISTICS.md), named as there.
    private struct Raw: Decodable {
        struct Topic: Decodable { var partitions: [String: RawPartition]? }
        struct RawPartition: Decodable {
            var partition: Int32
            var consumer_lag: Int64?
            var fetch_state: String?
        }
        var topics: [String: Topic]?
    }
}
