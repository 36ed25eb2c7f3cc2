import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The dead-letter store and the database failure classification, against the real PostgreSQL.
@Suite("Dead letters and database failures", .serialized, .timeLimit(.minutes(2)))
struct DeadLetterStoreTests {
    @Test("A letter with NUL bytes, invalid UTF-8 and a 3 MB payload is stored, bounded, with size and digest")
    func hostileLetter() async throws {
        let database = try await ScratchDatabase.create()
        let payload = Array(repeating: UInt8(0), count: 3 * 1024 * 1024)
        let letter = DeadLetter(
            consumer: "coordinator", topic: "t", partition: 1, offset: 9, recordTime: Date(), key: [0, 0xFF],
            payload: payload, headers: [("ce\u{0}id", [0x00, 0xFF]), ("ok", Array("v".utf8))],
            error: "bad\u{0}error", attempts: 1)
        try await database.withStore { store in
            try await store.messaging.recordDeadLetter(letter)
            let listed = try await store.messaging.deadLetters(limit: 10, includeDiscarded: false)
            #expect(listed.count == 1)
            let listedID = try #require(listed.first).id
            let stored = try #require(try await store.messaging.deadLetter(listedID))
            #expect(stored.payloadSize == payload.count)
            #expect(stored.payloadSHA256.count == 64)
            #expect(stored.error == "bad\\u{00}error")
            #expect(stored.headers?["ce\\u{00}id"] == "\\u{00}\\xff")
            let record = try #require(try await store.messaging.deadLetterRecord(stored.id))
            #expect(!record.isComplete, "a truncated payload is never replayed")
            #expect(record.payload.count == DeadLetter.maxStoredPayload)
        }
    }

    @Test("A new dead letter at an offset a reset broker reuses is recorded; the same record twice is not")
    func reusedOffset() async throws {
        let database = try await ScratchDatabase.create()
        @Sendable func letter(_ body: String, at time: Date) -> DeadLetter {
            DeadLetter(
                consumer: "c", topic: "t", partition: 0, offset: 0, recordTime: time, key: nil,
                payload: Array(body.utf8), headers: [], error: "e", attempts: 1)
        }
        let first = Date(timeIntervalSince1970: 1_000)
        try await database.withStore { store in
            try await store.messaging.recordDeadLetter(letter("one", at: first))
            try await store.messaging.recordDeadLetter(letter("one", at: first))
            try await store.messaging.recordDeadLetter(letter("two", at: Date(timeIntervalSince1970: 2_000)))
            #expect(try await store.messaging.deadLetters(limit: 10, includeDiscarded: true).count == 2)
        }
    }

    @Test("A read-only transaction is transient; a statement that fails on its values is permanent")
    func classification() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            do {
                try await store.client.withTransaction(logger: TestStack.logger) { connection in
                    try await connection.query("SET TRANSACTION READ ONLY", logger: TestStack.logger)
                    try await connection.query("CREATE TABLE nope (x int)", logger: TestStack.logger)
                }
                Issue.record("a write in a read-only transaction should fail")
            } catch {
                #expect(DatabaseFailure.classify(error) == .transient, "\(describeError(error))")
            }
            do {
                try await store.client.query("SELECT 1/0", logger: TestStack.logger)
                Issue.record("division by zero should fail")
            } catch {
                #expect(DatabaseFailure.classify(error) == .permanent)
            }
            #expect(DatabaseFailure.classify(CancellationError()) == nil)
        }
    }
}
