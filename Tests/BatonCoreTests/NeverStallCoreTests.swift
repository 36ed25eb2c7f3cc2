import BatonCore
import Foundation
import Testing

@Suite("Never stall: envelopes, safe text, unserved pools")
struct NeverStallCoreTests {
    @Test("SafeText escapes NUL, control bytes and invalid UTF-8, and bounds the size")
    func safeText() {
        #expect(SafeText.make(bytes: Array("a\u{0}b\tc\n".utf8), limit: 100) == "a\\u{00}b\tc\n")
        #expect(SafeText.make(bytes: [0x61, 0xFF, 0xC3, 0xA9], limit: 100) == "a\\xffé")
        let long = SafeText.make(bytes: Array(repeating: UInt8(ascii: "x"), count: 10_000), limit: 100)
        #expect(long.utf8.count < 150)
        #expect(long.hasSuffix("… (10000 bytes in all)"))
    }

    @Test("A bare request takes the replay header's id, else its idempotency key, else the fallback")
    func bareIDs() throws {
        let body = Array(#"{"pipeline":"p"}"#.utf8)
        let plain = try CloudEventCodec.decode(headers: [], value: body, defaultType: "t", fallbackID: "kafka:x/0/1@5")
        #expect(plain.id == "kafka:x/0/1@5")
        let replayed = try CloudEventCodec.decode(
            headers: [(CloudEventCodec.replayedFromHeader, Array("dead-letter/7".utf8))], value: body,
            defaultType: "t", fallbackID: "kafka:x/0/1@5")
        #expect(replayed.id == "replay:dead-letter/7")
        let keyed = try CloudEventCodec.decode(
            headers: [(CloudEventCodec.replayedFromHeader, Array("dead-letter/7".utf8))],
            value: Array(#"{"idempotency_key":"k"}"#.utf8), defaultType: "t", fallbackID: "f")
        #expect(keyed.id == "idem:k")
    }

    @Test("Envelopes with a NUL in a header, an oversize id or too many headers are refused with a reason")
    func envelopeBounds() {
        func decode(_ headers: [CloudEventCodec.Header]) -> String? {
            do {
                _ = try CloudEventCodec.decode(
                    headers: headers, value: Array("{}".utf8), defaultType: "t", fallbackID: "f")
                return nil
            } catch {
                return error.message
            }
        }
        let binary: [CloudEventCodec.Header] = [("ce_specversion", Array("1.0".utf8)), ("ce_type", Array("x".utf8))]
        #expect(decode(binary + [("ce_id", Array("a\u{0}b".utf8))])?.contains("NUL") == true)
        #expect(decode(binary + [("ce_id", Array(repeating: 0x61, count: 300))])?.contains("limit is 256") == true)
        #expect(decode(binary + [("ce_id", [0xFF])])?.contains("UTF-8") == true)
        let many = (0..<100).map { (key: "h\($0)", value: Optional([UInt8(1)])) }
        #expect(decode(binary + [("ce_id", Array("i".utf8))] + many)?.contains("headers") == true)
        #expect(decode(binary + [("ce_id", Array("fine".utf8))]) == nil)
    }

    @Test("An attempt no worker picked up fails its ready stage at once, without a retry")
    func unservedPool() throws {
        let spec = try PipelineSpecParser.parse(
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: p}
            defaults: {retries: {limit: 3, backoff: 1s}}
            stages: [{name: a, kind: noop, pool: gpu}, {name: b, kind: noop, needs: [a]}]
            """)
        let planner = RunPlanner(spec: spec, params: [:])
        let outcome = StageOutcome(
            runId: UUID(), stage: "a", attemptId: UUID(), attempt: 1, state: .failed, error: "no worker for pool gpu",
            errorType: RunPlanner.noWorkerErrorType)
        let actions = planner.apply(outcome, states: ["a": .ready, "b": .pending], countedAttempts: 1, lostAttempts: 0)
        #expect(actions.first == .finishStage(stage: "a", state: .failed, error: "no worker for pool gpu"))
        #expect(actions.contains { if case .finishRun(.failed, _) = $0 { true } else { false } })
        // Any other failure of a stage that is not running is stale and ignored.
        var other = outcome
        other.errorType = "boom"
        #expect(
            planner.apply(other, states: ["a": .ready, "b": .pending], countedAttempts: 1, lostAttempts: 0).isEmpty)
    }
}
