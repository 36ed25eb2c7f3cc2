import BatonCore
import Foundation
import Testing

@Suite("Run trace ids and hex digits")
struct RunTraceTests {
    @Test("Bytes print as two lower-case hex digits each, as a formatter would")
    func hexDigits() {
        #expect([UInt8]().lowercaseHex == "")
        #expect([0x00, 0x0a, 0xff, 0x10].lowercaseHex == "000aff10")
        let bytes = (0...255).map(UInt8.init)
        #expect(bytes.lowercaseHex == bytes.map { String(format: "%02x", $0) }.joined())
    }

    @Test("A run's trace id is its UUID's 32 hex digits; a traceparent carries it with a span id of 16")
    func traceIDs() throws {
        let runID = try #require(UUID(uuidString: "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"))
        #expect(RunTrace.traceID(of: runID) == "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        let traceparent = RunTrace.traceparent(runID: runID, span: "event-1")
        let parts = traceparent.split(separator: "-").map(String.init)
        #expect(parts.count == 4)
        #expect(parts[0] == "00" && parts[3] == "01")
        #expect(parts[1] == RunTrace.traceID(of: runID))
        // The first 8 bytes of the span's SHA-256 (`hashlib.sha256(b"event-1").hexdigest()[:16]`).
        #expect(parts[2] == "ce36863f51b6baf9")
        #expect(RunTrace.traceID(ofTraceparent: traceparent) == parts[1])
    }
}
