import CRdKafka

// MARK: - RDKafkaTopicPartitionList

/// Builds and reads `rd_kafka_topic_partition_list_t`.
enum RDKafkaTopicPartitionList {
    typealias List = UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// A new list of topic-partitions with offsets; free it with `rd_kafka_topic_partition_list_destroy`.
    static func make(_ entries: [(topic: String, partition: Int32, offset: Int64)]) -> List {
        let list = rd_kafka_topic_partition_list_new(Int32(clamping: entries.count))!
        for entry in entries {
            let element = rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition)!
            element.pointee.offset = entry.offset
        }
        return list
    }

    /// The topic-partitions in a list (empty for `nil`).
    static func topicPartitions(of list: List?) -> [KafkaTopicPartition] {
        guard let list, list.pointee.cnt > 0, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elements[index]
            return KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
        }
    }

    /// The first per-partition error in a list, if any.
    static func firstError(of list: List) -> rd_kafka_resp_err_t? {
        guard list.pointee.cnt > 0, let elements = list.pointee.elems else { return nil }
        for index in 0..<Int(list.pointee.cnt) where elements[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            return elements[index].err
        }
        return nil
    }
}
