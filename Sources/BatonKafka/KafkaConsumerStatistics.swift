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
        /// Records between the committed offset and the end of the partition (`consumer_lag`);
        /// -1 when librdkafka does not know it (nothing committed yet).
        public var lag: Int64
        /// librdkafka's fetch state, e.g. `active`, `offset-query`, `stopped`.
        public var fetchState: String
        /// The next offset librdkafka fetches (`next_offset`); -1 when unknown.
        public var nextOffset: Int64
        /// The partition's end, its high watermark in the latest fetch answer (`hi_offset`); -1 when unknown.
        public var end: Int64

        /// Whether the consumer is positioned past the partition's end: the broker lost records
        /// this consumer's group had read.
        public var isPastEnd: Bool { end >= 0 && nextOffset > end }
    }

    /// The partitions this consumer fetches, in topic and partition order.
    public var partitions: [Partition]

    /// Reads librdkafka's statistics JSON; partitions this consumer does not fetch (fetch state
    /// `none`) and librdkafka's internal partition -1 are left out.
    ///
    /// - Throws: `DecodingError` when `json` is not librdkafka's statistics.
    public init(json: Data) throws {
        let raw = try JSONDecoder().decode(Raw.self, from: json)
        partitions = (raw.topics ?? [:]).flatMap { topic, entry in
            (entry.partitions ?? [:]).values.compactMap { partition -> Partition? in
                guard partition.partition >= 0, (partition.fetch_state ?? "none") != "none" else { return nil }
                return Partition(
                    topic: topic, partition: partition.partition, lag: partition.consumer_lag ?? -1,
                    fetchState: partition.fetch_state ?? "",
                    nextOffset: partition.next_offset ?? -1, end: partition.hi_offset ?? -1)
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
            var next_offset: Int64?
            var hi_offset: Int64?
        }
        var topics: [String: Topic]?
    }
}
