import BatonCore
import Foundation
import Testing

@Suite("CloudEvents codec")
struct CloudEventCodecTests {
    @Test("Binary mode round-trips every attribute")
    func binary() throws {
        let payload = PipelineRequested(pipeline: "p", params: ["x": .int(1)], idempotencyKey: "k")
        let event = try CloudEvent(source: "test", type: .pipelineRequested, subject: "run/1", payload: payload)
        let decoded = try CloudEventCodec.decode(
            headers: CloudEventCodec.headers(for: event), value: event.data, defaultType: "other", fallbackID: "f")
        #expect(decoded.id == event.id)
        #expect(decoded.type == "pipeline.requested")
        #expect(decoded.subject == "run/1")
        #expect(abs(decoded.time.timeIntervalSince(event.time)) < 0.001)
        #expect(try decoded.decode(PipelineRequested.self) == payload)
    }

    @Test("Structured mode and bare JSON are accepted on ingress")
    func liberalIngress() throws {
        let structured =
            #"{"specversion":"1.0","id":"e1","type":"pipeline.requested","source":"s","data":{"pipeline":"p"}}"#
        let event = try CloudEventCodec.decode(
            headers: [("content-type", Array("application/cloudevents+json".utf8))], value: Array(structured.utf8),
            defaultType: "x", fallbackID: "f")
        #expect(event.id == "e1")
        #expect(try event.decode(PipelineRequested.self).pipeline == "p")

        let bare = #"{"pipeline":"p","idempotency_key":"nightly-42"}"#
        let bareEvent = try CloudEventCodec.decode(
            headers: [], value: Array(bare.utf8), defaultType: "pipeline.requested", fallbackID: "t/0/7")
        #expect(bareEvent.id == "idem:nightly-42")
        #expect(bareEvent.type == "pipeline.requested")
        let anonymous = try CloudEventCodec.decode(
            headers: [], value: Array(#"{"pipeline":"p"}"#.utf8), defaultType: "pipeline.requested", fallbackID: "t/0/7"
        )
        #expect(anonymous.id == "t/0/7")
    }

    @Test("Not JSON, a JSON array, and a binary event without id are rejected with a reason")
    func rejects() {
        let notJSON = #expect(throws: EventError.self) {
            try CloudEventCodec.decode(headers: [], value: Array("hello".utf8), defaultType: "t", fallbackID: "f")
        }
        #expect(notJSON?.message == "event body is not JSON")
        #expect(throws: EventError.self) {
            try CloudEventCodec.decode(headers: [], value: Array("[1]".utf8), defaultType: "t", fallbackID: "f")
        }
        #expect(throws: EventError.self) {
            try CloudEventCodec.decode(
                headers: [("ce_type", Array("x".utf8)), ("ce_specversion", Array("1.0".utf8))], value: Array("{}".utf8),
                defaultType: "t", fallbackID: "f")
        }
    }
}
