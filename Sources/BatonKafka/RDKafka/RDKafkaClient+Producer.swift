import CRdKafka

// MARK: - Producing

extension RDKafkaClient {
    /// What happened to a record handed to librdkafka.
    enum ProduceOutcome: Sendable {
        /// Enqueued; its delivery report will complete the operation `id`.
        case enqueued
        /// librdkafka's local queue is full; try again shortly.
        case queueFull
    }

    /// Enqueues a record (copying its bytes); the delivery report completes operation `id`.
    ///
    /// - Throws: ``KafkaError/Code/produceFailed`` when librdkafka refuses the record,
    ///   ``KafkaError/Code/clientClosed`` after ``destroy()``.
    func produce(_ message: KafkaProducerMessage, id: UInt) throws(KafkaError) -> ProduceOutcome {
        let headers = RDKafkaHeaders.make(message.headers)
        let error: OpaquePointer?
        do {
            error = try withHandle { handle in
                Self.produce(message, id: id, headers: headers, handle: handle)
            }
        } catch {
            if let headers { rd_kafka_headers_destroy(headers) }
            throw error
        }
        guard let error else {
            return .enqueued  // librdkafka now owns the headers
        }
        if let headers { rd_kafka_headers_destroy(headers) }
        let failure = RDKafkaError.consume(error)
        if failure.code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
            return .queueFull
        }
        throw KafkaError.produceFailed(
            "librdkafka refused a record for topic '\(message.topic)': \(failure.text).",
            isRetriable: failure.isRetriable,
            underlyingName: failure.name
        )
    }

    private static func produce(
        _ message: KafkaProducerMessage,
        id: UInt,
        headers: OpaquePointer?,
        handle: OpaquePointer
    ) -> OpaquePointer? {
        message.topic.withCString { topic in
            withOptionalBytes(message.value) { value in
                withOptionalBytes(message.key) { key in
                    var arguments: [rd_kafka_vu_t] = []
                    arguments.reserveCapacity(7)

                    var argument = rd_kafka_vu_t()
                    argument.vtype = RD_KAFKA_VTYPE_TOPIC
                    argument.u.cstr = topic
                    arguments.append(argument)

                    if let partition = message.partition {
                        argument = rd_kafka_vu_t()
                        argument.vtype = RD_KAFKA_VTYPE_PARTITION
                        argument.u.i32 = partition
                        arguments.append(argument)
                    }

                    argument = rd_kafka_vu_t()
                    argument.vtype = RD_KAFKA_VTYPE_VALUE
                    argument.u.mem.ptr = UnsafeMutableRawPointer(mutating: value?.baseAddress)
                    argument.u.mem.size = value?.count ?? 0
                    arguments.append(argument)

                    if let key {
                        argument = rd_kafka_vu_t()
                        argument.vtype = RD_KAFKA_VTYPE_KEY
                        argument.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                        argument.u.mem.size = key.count
                        arguments.append(argument)
                    }

                    argument = rd_kafka_vu_t()
                    argument.vtype = RD_KAFKA_VTYPE_OPAQUE
                    argument.u.ptr = id.rdKafkaOpaque
                    arguments.append(argument)

                    argument = rd_kafka_vu_t()
                    argument.vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    argument.u.i = RD_KAFKA_MSG_F_COPY
                    arguments.append(argument)

                    if let headers {
                        argument = rd_kafka_vu_t()
                        argument.vtype = RD_KAFKA_VTYPE_HEADERS
                        argument.u.headers = headers
                        arguments.append(argument)
                    }

                    return arguments.withUnsafeBufferPointer { buffer in
                        rd_kafka_produceva(handle, buffer.baseAddress, buffer.count)
                    }
                }
            }
        }
    }

    /// Calls `body` with the bytes of `bytes`, or with `nil` when there are none.
    ///
    /// Empty bytes still get a non-null pointer, so that an empty key or value stays empty
    /// rather than becoming a missing key or a null value (a tombstone on compacted topics).
    private static func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        if bytes.isEmpty {
            return withUnsafeBytes(of: UInt8(0)) { zero in
                body(UnsafeRawBufferPointer(start: zero.baseAddress, count: 0))
            }
        }
        return bytes.withUnsafeBytes { body($0) }
    }
}
