import CRdKafka

// MARK: - Administration

extension RDKafkaClient {
    /// Creates topics; a topic that already exists counts as created. Blocks for up to
    /// `timeout`: call off the cooperative pool.
    ///
    /// - Throws: ``KafkaError/Code/topicCreationFailed`` naming each topic that failed,
    ///   ``KafkaError/Code/timedOut`` when the brokers did not answer in time.
    func createTopics(_ topics: [KafkaTopicSpec], timeout: Duration) throws(KafkaError) {
        guard !topics.isEmpty else { return }
        let milliseconds = KafkaConfigurationProperties.milliseconds(timeout)
        var newTopics: [OpaquePointer?] = []
        defer {
            for newTopic in newTopics { rd_kafka_NewTopic_destroy(newTopic) }
        }
        for topic in topics {
            newTopics.append(try Self.newTopic(topic))
        }

        try withHandle { (handle: OpaquePointer) throws(KafkaError) in
            guard let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS) else {
                throw KafkaError.topicCreationFailed("librdkafka could not allocate admin options.", isRetriable: false)
            }
            defer { rd_kafka_AdminOptions_destroy(options) }
            var errorText = [CChar](repeating: 0, count: 512)
            _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errorText, errorText.count)
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errorText, errorText.count)

            let queue = rd_kafka_queue_new(handle)
            defer { rd_kafka_queue_destroy(queue) }
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
            }
            // librdkafka answers by the request timeout; the margin only guards against a hang.
            let event = rd_kafka_queue_poll(queue, milliseconds &+ 5_000)
            defer {
                if let event { rd_kafka_event_destroy(event) }
                rd_kafka_poll(handle, 0)  // serve error callbacks queued meanwhile
            }
            guard let event else {
                throw KafkaError.timedOut("Creating topics got no answer within \(timeout).")
            }
            try Self.checkCreateTopicsResult(event, timeout: timeout)
        }
    }

    private static func newTopic(_ topic: KafkaTopicSpec) throws(KafkaError) -> OpaquePointer {
        var errorText = [CChar](repeating: 0, count: 512)
        guard
            let newTopic = rd_kafka_NewTopic_new(
                topic.name,
                topic.partitions,
                Int32(topic.replicationFactor),
                &errorText,
                errorText.count
            )
        else {
            throw KafkaError.invalidConfiguration(
                "Topic '\(topic.name)' is invalid: \(RDKafkaError.string(fromBuffer: errorText)).")
        }
        for (key, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_NewTopic_set_config(newTopic, key, value)
            if result != RD_KAFKA_RESP_ERR_NO_ERROR {
                rd_kafka_NewTopic_destroy(newTopic)
                throw KafkaError.invalidConfiguration(
                    "Topic '\(topic.name)': config '\(key)' was rejected: \(RDKafkaError.text(result))."
                )
            }
        }
        return newTopic
    }

    private static func checkCreateTopicsResult(_ event: OpaquePointer, timeout: Duration) throws(KafkaError) {
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? RDKafkaError.text(eventError)
            if eventError == RD_KAFKA_RESP_ERR__TIMED_OUT || eventError == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE {
                throw KafkaError.timedOut(
                    "Creating topics timed out after \(timeout): check that the brokers are reachable (\(text))."
                )
            }
            throw KafkaError.topicCreationFailed(
                "Creating topics failed: \(text).",
                isRetriable: RDKafkaError.isRetriable(eventError),
                underlyingName: RDKafkaError.name(eventError)
            )
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else {
            throw KafkaError.topicCreationFailed("librdkafka returned an unexpected admin result.", isRetriable: false)
        }
        var count = 0
        guard let topicResults = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        var failures: [String] = []
        var firstFailure: rd_kafka_resp_err_t?
        for index in 0..<count {
            guard let topicResult = topicResults[index] else { continue }
            let code = rd_kafka_topic_result_error(topicResult)
            if code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                continue
            }
            let name = String(cString: rd_kafka_topic_result_name(topicResult))
            let text =
                rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) } ?? RDKafkaError.text(code)
            failures.append("'\(name)': \(text)")
            firstFailure = firstFailure ?? code
        }
        if let firstFailure {
            throw KafkaError.topicCreationFailed(
                "Creating topics failed for \(failures.joined(separator: "; ")).",
                isRetriable: RDKafkaError.isRetriable(firstFailure),
                underlyingName: RDKafkaError.name(firstFailure)
            )
        }
    }
}
