import Foundation
import PostgresNIO

/// A message no consumer could handle, with its origin.
public struct DeadLetter: Sendable, Hashable {
    public var consumer: String
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var payload: [UInt8]
    public var headers: [String: String]
    /// Why it could not be handled.
    public var error: String
    /// How many times handling was tried.
    public var attempts: Int

    public init(
        consumer: String, topic: String, partition: Int32, offset: Int64, key: [UInt8]?, payload: [UInt8],
        headers: [String: String], error: String, attempts: Int
    ) {
        self.consumer = consumer
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.payload = payload
        self.headers = headers
        self.error = error
        self.attempts = attempts
    }
}

extension BatonStore {
    /// Records a dead letter; recording the same message twice keeps the first record.
    public func recordDeadLetter(_ letter: DeadLetter) async throws {
        let headers = String(decoding: try JSONEncoder().encode(letter.headers), as: UTF8.self)
        try await client.query(
            """
            INSERT INTO dead_letters (consumer, topic, partition, "offset", key, payload, headers, error, attempts)
            VALUES (\(letter.consumer), \(letter.topic), \(Int(letter.partition)), \(letter.offset),
                    \(letter.key.map { ByteBuffer(bytes: $0) }), \(ByteBuffer(bytes: letter.payload)), \(headers)::jsonb,
                    \(letter.error), \(letter.attempts))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }
}
