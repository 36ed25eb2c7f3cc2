import CRdKafka
import Foundation
import Logging
import Synchronization

// MARK: - RDKafkaCallbacks

/// The Swift side of librdkafka's C callbacks; each finds its ``RDKafkaClientContext`` through
/// the handle's opaque pointer.
enum RDKafkaCallbacks {
    /// The context of a handle. `rd_kafka_opaque` only reads a field, so it is safe even in the
    /// log callback, where librdkafka forbids other API calls.
    private static func context(of handle: OpaquePointer?) -> RDKafkaClientContext? {
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
        return Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }

    private static func context(opaque: UnsafeMutableRawPointer?) -> RDKafkaClientContext? {
        guard let opaque else { return nil }
        return Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }

    // MARK: - Logs and errors

    /// `log_cb`: called from librdkafka's own threads.
    static func log(
        handle: OpaquePointer?,
        level: Int32,
        facility: UnsafePointer<CChar>?,
        message: UnsafePointer<CChar>?
    ) {
        guard let context = context(of: handle) else { return }
        context.log(
            level: level,
            facility: facility.map { String(cString: $0) } ?? "",
            message: message.map { String(cString: $0) } ?? ""
        )
    }

    /// `error_cb`: served by the poll thread. Most errors are transient (librdkafka retries);
    /// a fatal one makes the client unusable and is remembered.
    static func error(
        handle: OpaquePointer?, code: Int32, reason: UnsafePointer<CChar>?, opaque: UnsafeMutableRawPointer?
    ) {
        guard let context = context(opaque: opaque) else { return }
        let errorCode = rd_kafka_resp_err_t(rawValue: code)
        let reasonText = reason.map { String(cString: $0) } ?? RDKafkaError.text(errorCode)
        if errorCode == RD_KAFKA_RESP_ERR__FATAL, let handle {
            var text = [CChar](repeating: 0, count: 512)
            let underlying = rd_kafka_fatal_error(handle, &text, text.count)
            let error = KafkaError.clientFailed(
                "librdkafka raised a fatal error; the client must be recreated: \(RDKafkaError.string(fromBuffer: text)).",
                underlyingName: RDKafkaError.name(underlying)
            )
            context.fatalError.withLock { $0 = $0 ?? error }
            context.logger.critical(
                "\(error.reason)",
                metadata: [KafkaLogMetadataKey.error: "\(RDKafkaError.name(underlying))"]
            )
            return
        }
        // Connection trouble is reported again and again while a broker is away: a warning.
        let level: Logger.Level = RDKafkaError.isRetriable(errorCode) ? .warning : .error
        context.logger.log(
            level: level,
            "librdkafka error: \(reasonText)",
            metadata: [KafkaLogMetadataKey.error: "\(RDKafkaError.name(errorCode))"]
        )
    }

    // MARK: - Producer

    /// `dr_msg_cb`: served by the producer's poll thread, once per record.
    static func delivery(
        handle: OpaquePointer?,
        message: UnsafePointer<rd_kafka_message_t>?,
        opaque: UnsafeMutableRawPointer?
    ) {
        guard let context = context(opaque: opaque), let message else { return }
        let id = UInt(rdKafkaOpaque: message.pointee._private)
        guard id != 0 else { return }
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let code = message.pointee.err
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            let report = KafkaDeliveryReport(
                topic: topic,
                partition: message.pointee.partition,
                offset: message.pointee.offset
            )
            context.deliveries.complete(id, with: .success(report))
        } else {
            context.deliveries.complete(id, with: .failure(RDKafkaError.delivery(code, topic: topic)))
        }
    }

    // MARK: - Consumer

    /// `stats_cb`: served by the consumer's poll thread. Returns 0: librdkafka frees the JSON.
    static func statistics(json: UnsafeMutablePointer<CChar>?, length: Int, opaque: UnsafeMutableRawPointer?) -> Int32 {
        guard let context = context(opaque: opaque), let observer = context.statisticsObserver, let json else {
            return 0
        }
        let data = Data(bytes: json, count: length)
        do {
            observer(try KafkaConsumerStatistics(json: data))
        } catch {
            context.logger.debug("librdkafka statistics unreadable", metadata: [KafkaLogMetadataKey.error: "\(error)"])
        }
        return 0
    }

    /// `rebalance_cb`: served by the consumer's poll thread (or by `rd_kafka_consumer_close`).
    ///
    /// Applies the change with the call that fits the group's protocol (incremental for
    /// `COOPERATIVE`, whole assignment for `EAGER`), then tells the observer. On revoke, the
    /// observer hears first, so that buffered records of those partitions are dropped before
    /// the partitions go.
    static func rebalance(
        handle: OpaquePointer?,
        code: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        opaque: UnsafeMutableRawPointer?
    ) {
        guard let handle, let context = context(opaque: opaque) else { return }
        let changed = RDKafkaTopicPartitionList.topicPartitions(of: partitions)
        let rebalanceProtocol = rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } ?? "NONE"
        let isCooperative = rebalanceProtocol == "COOPERATIVE"
        var logger = context.logger
        logger[metadataKey: KafkaLogMetadataKey.rebalanceProtocol] = "\(rebalanceProtocol)"
        logger[metadataKey: KafkaLogMetadataKey.partitions] = "\(changed.map(\.description).joined(separator: ","))"

        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            logger.info("Partitions assigned")
            if isCooperative {
                if let error = rd_kafka_incremental_assign(handle, partitions) {
                    let failure = RDKafkaError.consume(error)
                    logger.error("Incremental assign failed: \(failure.text)")
                }
            } else {
                let result = rd_kafka_assign(handle, partitions)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.error("Assign failed: \(RDKafkaError.text(result))")
                }
            }
            if context.isFetchPaused.load(ordering: .acquiring), let partitions {
                _ = rd_kafka_pause_partitions(handle, partitions)
            }
            context.rebalanceObserver?(.assigned(changed))

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let isLost = rd_kafka_assignment_lost(handle) != 0
            logger.info("Partitions revoked", metadata: ["kafka.lost": "\(isLost)"])
            context.rebalanceObserver?(.revoked(changed, lost: isLost))
            if isCooperative {
                if let error = rd_kafka_incremental_unassign(handle, partitions) {
                    let failure = RDKafkaError.consume(error)
                    logger.error("Incremental unassign failed: \(failure.text)")
                }
            } else {
                _ = rd_kafka_assign(handle, nil)
            }

        default:
            logger.error(
                "Rebalance failed; dropping the assignment until the group settles",
                metadata: [KafkaLogMetadataKey.error: "\(RDKafkaError.name(code))"]
            )
            context.rebalanceObserver?(.revoked(changed, lost: true))
            _ = rd_kafka_assign(handle, nil)
        }
    }

    /// The commit callback of `rd_kafka_commit_queue`: served by the consumer's poll thread
    /// once the broker answered; `opaque` carries the commit's id.
    static func commit(
        handle: OpaquePointer?,
        code: rd_kafka_resp_err_t,
        offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        opaque: UnsafeMutableRawPointer?
    ) {
        guard let context = context(of: handle) else { return }
        let id = UInt(rdKafkaOpaque: opaque)
        guard id != 0 else { return }
        var failure = code
        if failure == RD_KAFKA_RESP_ERR_NO_ERROR, let offsets {
            failure = RDKafkaTopicPartitionList.firstError(of: offsets) ?? RD_KAFKA_RESP_ERR_NO_ERROR
        }
        if failure == RD_KAFKA_RESP_ERR_NO_ERROR {
            context.commits.complete(id, with: .success(()))
        } else {
            context.commits.complete(
                id,
                with: .failure(
                    .commitFailed(
                        "Committing an offset failed: \(RDKafkaError.text(failure)). "
                            + "If the partition was revoked, its new owner will process the record again.",
                        isRetriable: RDKafkaError.isRetriable(failure),
                        underlyingName: RDKafkaError.name(failure)
                    )
                )
            )
        }
    }
}
