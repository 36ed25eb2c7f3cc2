import CRdKafka

// MARK: - RDKafkaError

/// Turns librdkafka's error codes into ``KafkaError`` values.
enum RDKafkaError {
    /// librdkafka's symbolic name for a code, such as `_MSG_TIMED_OUT`.
    static func name(_ code: rd_kafka_resp_err_t) -> String {
        String(cString: rd_kafka_err2name(code))
    }

    /// librdkafka's readable description of a code.
    static func text(_ code: rd_kafka_resp_err_t) -> String {
        String(cString: rd_kafka_err2str(code))
    }

    /// The text librdkafka wrote into a zero-terminated buffer.
    static func string(fromBuffer buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether an operation that failed with `code` may succeed when tried again.
    static func isRetriable(_ code: rd_kafka_resp_err_t) -> Bool {
        retriableCodes.contains(code.rawValue)
    }

    private static let retriableCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
        RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE,
        RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
        RD_KAFKA_RESP_ERR__RESOLVE,
        RD_KAFKA_RESP_ERR__QUEUE_FULL,
        RD_KAFKA_RESP_ERR__WAIT_COORD,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
    ].reduce(into: Set<Int32>()) { $0.insert($1.rawValue) }

    /// The error for a record whose delivery failed.
    static func delivery(_ code: rd_kafka_resp_err_t, topic: String) -> KafkaError {
        let name = name(code)
        switch code {
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
            return .messageTimedOut(
                "A record for topic '\(topic)' was not acknowledged within the message timeout: "
                    + "check that the brokers are reachable (\(text(code))).",
                underlyingName: name
            )
        case RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
            return .clientClosed("The producer shut down before a record for topic '\(topic)' was delivered.")
        default:
            return .deliveryFailed(
                "Delivering a record to topic '\(topic)' failed: \(text(code)).",
                isRetriable: isRetriable(code),
                underlyingName: name
            )
        }
    }

    /// Reads, describes and frees an `rd_kafka_error_t`.
    ///
    /// - Returns: the code, librdkafka's name, its text, and whether it is retriable.
    static func consume(
        _ error: OpaquePointer
    ) -> (code: rd_kafka_resp_err_t, name: String, text: String, isRetriable: Bool) {
        defer { rd_kafka_error_destroy(error) }
        return (
            rd_kafka_error_code(error),
            String(cString: rd_kafka_error_name(error)),
            String(cString: rd_kafka_error_string(error)),
            rd_kafka_error_is_retriable(error) != 0 || isRetriable(rd_kafka_error_code(error))
        )
    }
}
