import BatonCore
import Foundation
import NIOCore
import Testing

@testable import BatonRay

/// The streaming decoder that keeps the end of a job log: no server needed.
@Suite("Ray job log tail")
struct RayJobLogTailTests {
    /// Ray's answer for `log`, as Python's `json.dumps` writes it (ASCII only).
    static func answer(_ log: String) throws -> [UInt8] {
        let encoded = try JSONEncoder().encode(["logs": log])
        // JSONEncoder writes non-ASCII as UTF-8; Ray writes \u escapes. Both must decode.
        return Array(encoded)
    }

    static func tail(_ bytes: [UInt8], limit: Int, chunk: Int = 1 << 16) throws -> RayJobLogTail {
        var tail = RayJobLogTail(limit: limit)
        var start = 0
        while start < bytes.count {
            let end = min(start + chunk, bytes.count)
            try tail.feed(ByteBuffer(bytes: bytes[start..<end]))
            start = end
        }
        return tail
    }

    @Test("A log under the limit comes back whole, escapes and all, however it is chunked")
    func wholeLog() throws {
        let log = "plain line\n\ttabbed \"quoted\" back\\slash /slash\n한국어 ok 😀\n::baton::metric {\"key\":\"a\"}\n"
        for chunk in [1, 2, 3, 7, 1 << 16] {
            let tail = try Self.tail(try Self.answer(log), limit: 1 << 20, chunk: chunk)
            #expect(try tail.log() == log, "chunk \(chunk)")
            #expect(!tail.isTruncated)
        }
        // Python's json.dumps: \u escapes, a surrogate pair for the emoji.
        let python = #"{"logs": "\ud55c\uad6d\uc5b4 \ud83d\ude00\n"}"#
        #expect(try Self.tail(Array(python.utf8), limit: 100, chunk: 1).log() == "한국어 😀\n")
    }

    @Test("A log over the limit keeps its last whole lines, with the records at its end")
    func keepsTheEnd() throws {
        let noise = String(repeating: "x", count: 99) + "\n"
        let record = "::baton::output {\"name\":\"data\",\"uri\":\"file:///tmp/d\"}\n"
        let log = String(repeating: noise, count: 20_000) + record
        let tail = try Self.tail(try Self.answer(log), limit: 10_000, chunk: 4096)
        #expect(tail.isTruncated)
        #expect(tail.total == log.utf8.count)
        let kept = try tail.log()
        #expect(kept.utf8.count <= 10_000)
        #expect(kept.hasSuffix(record))
        let lines = kept.components(separatedBy: "\n").filter { !$0.isEmpty }
        #expect(lines.dropLast().allSatisfy { $0.count == 99 }, "only whole lines")
        #expect(JobRecords(log: kept).outputs.map(\.name) == ["data"])
        // A cut that falls exactly at a line start keeps that line.
        let exact = try Self.tail(try Self.answer("aaaa\nbbbb\n"), limit: 5).log()
        #expect(exact == "bbbb\n")
    }

    @Test("An answer that is not {\"logs\": ...} or breaks off is an error, never an empty log")
    func malformed() throws {
        #expect(throws: RayError.self) { try Self.tail(Array("[1,2]".utf8), limit: 10).log() }
        #expect(throws: RayError.self) { try Self.tail(Array(#"{"logs": "half"#.utf8), limit: 10).log() }
        #expect(throws: RayError.self) { try Self.tail(Array(#"{"other": "x"}"#.utf8), limit: 10).log() }
        #expect(throws: RayError.self) { try Self.tail(Array(#"{"logs": "\q"}"#.utf8), limit: 10).log() }
    }
}
