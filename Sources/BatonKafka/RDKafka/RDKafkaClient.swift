import CRdKafka
import Logging
import Synchronization

// MARK: - RDKafkaClient

/// Owns one librdkafka handle (`rd_kafka_t`) and everything created with it.
///
/// Calls from any thread go through ``withHandle(_:)``, which refuses to touch a destroyed
/// handle. The owning poll thread may use ``unguardedHandle`` for its long blocking polls,
/// because that same thread is the one that calls ``destroy()``.
final class RDKafkaClient: @unchecked Sendable {  // the handle is thread-safe; destroy is serialised by `isDestroyed`
    /// What the handle is for.
    enum Kind: Sendable {
        case producer
        case consumer
        case admin
    }

    let kind: Kind
    let context: RDKafkaClientContext
    private let handle: OpaquePointer
    /// The consumer queue, used as the reply queue of offset commits (consumers only).
    private let consumerQueue: OpaquePointer?
    private let retainedContext: Unmanaged<RDKafkaClientContext>
    private let isDestroyed = Mutex(false)

    private init(
        kind: Kind,
        handle: OpaquePointer,
        consumerQueue: OpaquePointer?,
        context: RDKafkaClientContext,
        retainedContext: Unmanaged<RDKafkaClientContext>
    ) {
        self.kind = kind
        self.handle = handle
        self.consumerQueue = consumerQueue
        self.context = context
        self.retainedContext = retainedContext
    }

    deinit {
        destroy()
    }

    /// Creates a handle from rendered properties.
    ///
    /// - Parameters:
    ///   - kind: Producer, consumer or admin.
    ///   - properties: The librdkafka properties.
    ///   - context: The callbacks' target.
    /// - Throws: ``KafkaError/Code/invalidConfiguration`` for a rejected property,
    ///   ``KafkaError/Code/clientCreationFailed`` when librdkafka cannot create the handle.
    static func make(
        kind: Kind,
        properties: KafkaConfigurationProperties,
        context: RDKafkaClientContext
    ) throws(KafkaError) -> RDKafkaClient {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError.clientCreationFailed("librdkafka could not allocate a configuration.")
        }
        var properties = properties
        if properties["log_level"] == nil {
            properties.set("log_level", String(RDKafkaClientContext.syslogLevel(for: context.logger.logLevel)))
        }
        for (key, value) in properties.entries {
            if let failure = set(key, value, on: conf) {
                rd_kafka_conf_destroy(conf)
                throw failure
            }
        }

        let retainedContext = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(conf, retainedContext.toOpaque())
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, message in
            RDKafkaCallbacks.log(handle: handle, level: level, facility: facility, message: message)
        }
        rd_kafka_conf_set_error_cb(conf) { handle, code, reason, opaque in
            RDKafkaCallbacks.error(handle: handle, code: code, reason: reason, opaque: opaque)
        }
        let type: rd_kafka_type_t
        switch kind {
        case .producer:
            type = RD_KAFKA_PRODUCER
            rd_kafka_conf_set_dr_msg_cb(conf) { handle, message, opaque in
                RDKafkaCallbacks.delivery(handle: handle, message: message, opaque: opaque)
            }
        case .consumer:
            type = RD_KAFKA_CONSUMER
            rd_kafka_conf_set_rebalance_cb(conf) { handle, code, partitions, opaque in
                RDKafkaCallbacks.rebalance(handle: handle, code: code, partitions: partitions, opaque: opaque)
            }
            rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
                RDKafkaCallbacks.statistics(json: json, length: length, opaque: opaque)
            }
        case .admin:
            type = RD_KAFKA_PRODUCER
        }

        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            // On failure the configuration still belongs to the caller.
            rd_kafka_conf_destroy(conf)
            retainedContext.release()
            throw KafkaError.clientCreationFailed(
                "librdkafka could not create a client: \(RDKafkaError.string(fromBuffer: errorText))."
            )
        }

        var consumerQueue: OpaquePointer?
        if kind == .consumer {
            // Route the main queue (errors, logs when queued) into the consumer queue, so that
            // one consumer poll serves every callback.
            rd_kafka_poll_set_consumer(handle)
            consumerQueue = rd_kafka_queue_get_consumer(handle)
        }
        return RDKafkaClient(
            kind: kind,
            handle: handle,
            consumerQueue: consumerQueue,
            context: context,
            retainedContext: retainedContext
        )
    }

    /// Sets one property; returns the error to throw, never quoting a secret's value.
    private static func set(_ key: String, _ value: String, on conf: OpaquePointer) -> KafkaError? {
        var errorText = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
        guard result != RD_KAFKA_CONF_OK else { return nil }
        let detail =
            KafkaConfigurationProperties.isSecret(key)
            ? "its value was rejected (not shown: the key may hold a secret)"
            : RDKafkaError.string(fromBuffer: errorText)
        if result == RD_KAFKA_CONF_UNKNOWN {
            return .invalidConfiguration("librdkafka does not know the property '\(key)': \(detail).")
        }
        return .invalidConfiguration("librdkafka rejected the property '\(key)': \(detail).")
    }

    // MARK: - Access

    /// Runs `body` with the handle unless the client was destroyed.
    ///
    /// - Throws: ``KafkaError/Code/clientClosed`` after ``destroy()``, or what `body` throws.
    func withHandle<T>(_ body: (OpaquePointer) throws(KafkaError) -> T) throws(KafkaError) -> T {
        try isDestroyed.withLock { (isDestroyed: inout Bool) throws(KafkaError) -> T in
            guard !isDestroyed else {
                throw KafkaError.clientClosed("The Kafka client was closed.")
            }
            return try body(handle)
        }
    }

    /// The handle without the destroy guard, for the owning poll thread only.
    var unguardedHandle: OpaquePointer { handle }

    /// The consumer queue (consumers only), for the owning poll thread and commits.
    var unguardedConsumerQueue: OpaquePointer? { consumerQueue }

    // MARK: - Polling and teardown

    /// Serves queued callbacks (delivery reports, errors) for up to `timeout`; poll thread only.
    func poll(timeout: Duration) {
        rd_kafka_poll(handle, Int32(KafkaConfigurationProperties.milliseconds(timeout)))
    }

    /// How many records and requests are not yet done (producers).
    func outstandingCount() throws(KafkaError) -> Int {
        try withHandle { handle in Int(rd_kafka_outq_len(handle)) }
    }

    /// Drops queued and in-flight records; their delivery reports then carry a purge error.
    func purge() {
        _ = try? withHandle { handle in
            rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
        }
    }

    /// Destroys the handle once; blocks until librdkafka's threads ended. Call off the
    /// cooperative pool.
    func destroy() {
        let wasDestroyed = isDestroyed.withLock { isDestroyed in
            defer { isDestroyed = true }
            return isDestroyed
        }
        guard !wasDestroyed else { return }
        if let consumerQueue {
            rd_kafka_queue_destroy(consumerQueue)
        }
        // The consumer was closed by its poll thread (or never subscribed); do not close again.
        rd_kafka_destroy_flags(handle, kind == .consumer ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE : 0)
        retainedContext.release()
    }
}
