import CRdKafka
import Foundation
import Synchronization

// MARK: - Consuming

extension RDKafkaClient {
    /// What one consumer poll returned.
    enum PollResult: Sendable {
        /// A record.
        case message(KafkaConsumerMessage)
        /// A consumer error (transient ones are also logged by librdkafka).
        case error(KafkaError, isFatal: Bool)
    }

    /// Subscribes to `topics`; the group assigns partitions asynchronously.
    ///
    /// - Throws: ``KafkaError/Code/subscriptionFailed``.
    func subscribe(to topics: [String]) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList.make(topics.map { ($0, -1, Int64(RD_KAFKA_OFFSET_INVALID)) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let result = try withHandle { handle in rd_kafka_subscribe(handle, list) }
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.subscriptionFailed(
                "Subscribing to \(topics.joined(separator: ", ")) failed: \(RDKafkaError.text(result)).",
                underlyingName: RDKafkaError.name(result)
            )
        }
    }

    /// Waits up to `timeout` for a record, serving callbacks meanwhile; poll thread only.
    func consumerPoll(timeout: Duration) -> PollResult? {
        let milliseconds = KafkaConfigurationProperties.milliseconds(timeout)
        guard let message = rd_kafka_consumer_poll(unguardedHandle, milliseconds) else {
            return nil
        }
        defer { rd_kafka_message_destroy(message) }
        let code = message.pointee.err
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            return .message(Self.consumerMessage(message))
        }
        if code == RD_KAFKA_RESP_ERR__PARTITION_EOF {
            return nil
        }
        let text = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? RDKafkaError.text(code)
        if code == RD_KAFKA_RESP_ERR__FATAL {
            var fatalText = [CChar](repeating: 0, count: 512)
            let underlying = rd_kafka_fatal_error(unguardedHandle, &fatalText, fatalText.count)
            return .error(
                .clientFailed(
                    "The consumer hit a fatal error and stopped: \(RDKafkaError.string(fromBuffer: fatalText)).",
                    underlyingName: RDKafkaError.name(underlying)
                ),
                isFatal: true
            )
        }
        return .error(
            .consumerFailed("Consumer error: \(text).", underlyingName: RDKafkaError.name(code)),
            isFatal: false
        )
    }

    /// Pauses or resumes fetching of the whole current assignment; poll thread only.
    ///
    /// Partitions assigned while paused are paused by the rebalance callback.
    func setFetchPaused(_ isPaused: Bool) {
        context.isFetchPaused.store(isPaused, ordering: .releasing)
        var assignment: RDKafkaTopicPartitionList.List?
        guard rd_kafka_assignment(unguardedHandle, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let assignment else {
            return
        }
        defer { rd_kafka_topic_partition_list_destroy(assignment) }
        if isPaused {
            _ = rd_kafka_pause_partitions(unguardedHandle, assignment)
        } else {
            _ = rd_kafka_resume_partitions(unguardedHandle, assignment)
        }
    }

    /// Moves the next offset to read of `partitions` to `offset` (`RD_KAFKA_OFFSET_BEGINNING` or
    /// `RD_KAFKA_OFFSET_END`) without waiting. Poll thread only.
    func seek(_ partitions: [KafkaTopicPartition], to offset: Int64) -> KafkaError? {
        let list = RDKafkaTopicPartitionList.make(partitions.map { ($0.topic, $0.partition, offset) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard let error = rd_kafka_seek_partitions(unguardedHandle, list, 0) else { return nil }
        defer { rd_kafka_error_destroy(error) }
        let text = rd_kafka_error_string(error).map { String(cString: $0) } ?? "unknown error"
        return .consumerFailed("Moving the read position failed: \(text).", underlyingName: nil)
    }

    /// Starts committing `offset` (the next offset to read) for one partition; the commit
    /// callback completes operation `id` when the broker answered.
    ///
    /// - Throws: ``KafkaError/Code/commitFailed`` when librdkafka refuses at once,
    ///   ``KafkaError/Code/clientClosed`` after ``destroy()``.
    func commit(topic: String, partition: Int32, offset: Int64, id: UInt) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList.make([(topic, partition, offset)])
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let result = try withHandle { handle in
            // The reply goes to the consumer queue, so the poll thread serves the callback.
            rd_kafka_commit_queue(
                handle, list, unguardedConsumerQueue,
                { handle, code, offsets, opaque in
                    RDKafkaCallbacks.commit(handle: handle, code: code, offsets: offsets, opaque: opaque)
                }, id.rdKafkaOpaque)
        }
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.commitFailed(
                "Committing offset \(offset) of \(topic)[\(partition)] failed: \(RDKafkaError.text(result)).",
                isRetriable: RDKafkaError.isRetriable(result),
                underlyingName: RDKafkaError.name(result)
            )
        }
    }

    /// Leaves the group (revoking the assignment through the rebalance callback) and stops
    /// fetching; blocks until done. Poll thread only.
    func closeConsumer() -> KafkaError? {
        let result = rd_kafka_consumer_close(unguardedHandle)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .consumerFailed(
                "Closing the consumer failed: \(RDKafkaError.text(result)).",
                underlyingName: RDKafkaError.name(result)
            )
        }
        return nil
    }

    // MARK: - Messages

    /// Copies a received record out of librdkafka's memory.
    private static func consumerMessage(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaConsumerMessage {
        let record = message.pointee
        let topic = record.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let key = record.key.map { Array(UnsafeRawBufferPointer(start: $0, count: record.key_len)) }
        let value = record.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: record.len)) } ?? []
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        let timestamp =
            timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || milliseconds < 0
            ? nil : Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        return KafkaConsumerMessage(
            topic: topic,
            partition: record.partition,
            offset: record.offset,
            key: key,
            value: value,
            headers: RDKafkaHeaders.headers(of: message),
            timestamp: timestamp
        )
    }
}
