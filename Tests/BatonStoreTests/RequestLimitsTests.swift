import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// Requests past ``RequestLimits`` are rejected in the coordinator's transaction with a short,
/// readable reason, before anything derived from them is looked up or stored.
@Suite("Request limits in PostgreSQL", .serialized, .timeLimit(.minutes(3)))
struct RequestLimitsTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: bounded}
        params: {limit: {type: number, default: 1}}
        stages:
          - {name: only, kind: noop}
        """

    func request(_ payload: PipelineRequested, id: String = UUID().uuidString) throws -> CloudEvent {
        try CloudEvent(id: id, source: "test", type: .pipelineRequested, payload: payload)
    }

    /// The rejection reason, or nil (recording an issue) when the request was not rejected.
    func rejection(_ store: BatonStore, _ event: CloudEvent) async throws -> String? {
        let outcome = try await store.runs.handleRequest(consumer: "c", policy: .tests, event: event)
        guard case .rejected(let reason) = outcome else {
            Issue.record("expected a rejection, got \(outcome)")
            return nil
        }
        return reason
    }

    @Test("Oversize fields are rejected naming the field and the limit; the reason stays short")
    func oversizeFields() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let manyKeys = (0..<10_000).map { "k\($0): 1" }.joined(separator: ", ")
            let flooded = Self.spec.replacingOccurrences(
                of: "{name: only, kind: noop}", with: "{name: only, kind: noop, \(manyKeys)}")
            let cases: [(PipelineRequested, String, Int)] = [
                (
                    PipelineRequested(pipeline: String(repeating: "p", count: 1 << 20)),
                    "pipeline is 1048576 bytes; the limit is 63", 200
                ),
                (
                    PipelineRequested(spec: Self.spec, labels: [String(repeating: "k", count: 100): "v"]),
                    "bytes; the limit is 63", 300
                ),
                (
                    PipelineRequested(spec: Self.spec, labels: ["team": String(repeating: "v", count: 5000)]),
                    "labels.team is 5000 bytes; the limit is 256", 200
                ),
                (
                    PipelineRequested(
                        spec: Self.spec,
                        params: Dictionary(uniqueKeysWithValues: (0..<1000).map { ("p\($0)", JSONValue.int(1)) })),
                    "params has 1000 entries; the limit is 256", 200
                ),
                (
                    PipelineRequested(spec: Self.spec, params: ["limit": .string("inf")]),
                    "param 'limit': inf is not a finite number; JSON cannot carry it", 200
                ),
                (
                    PipelineRequested(spec: flooded), "invalid pipeline spec (10000 problems)",
                    RequestLimits.maxReasonBytes
                ),
            ]
            for (payload, expected, maxBytes) in cases {
                guard let reason = try await rejection(store, try request(payload)) else { continue }
                #expect(reason.contains(expected), "\(reason.prefix(300))")
                #expect(reason.utf8.count <= maxBytes, "\(reason.utf8.count) bytes: \(reason.prefix(300))")
            }
            let rows = try await store.client.query(
                """
                SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM outbox WHERE event_type = 'run.rejected'),
                       (SELECT max(length(reason)) FROM inbox WHERE outcome = 'rejected')
                """)
            for try await (runs, events, longest) in rows.decode((Int, Int, Int).self) {
                #expect(runs == 0)
                #expect(events == cases.count)
                #expect(longest <= RequestLimits.maxReasonBytes)
            }
        }
    }

    @Test("A 3 KB idempotency key is rejected, not thrown, even when it is the event id (idem:<key>)")
    func longIdempotencyKey() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let key = String(repeating: "k", count: 3000)
            let payload = PipelineRequested(spec: Self.spec, idempotencyKey: key)
            let event = try request(payload, id: "idem:\(key)")
            let reason = try await rejection(store, event)
            #expect(reason == "idempotency_key is 3000 bytes; the limit is 256")
            // The same event again is a duplicate: the inbox kept it, by digest.
            #expect(
                try await store.runs.handleRequest(consumer: "c", policy: .tests, event: event)
                    == .duplicate(runID: nil))
            let status = try await store.runs.requestStatus(consumer: "c", source: event.source, eventID: event.id)
            #expect(status?.outcome == "rejected")
            let rows = try await store.client.query(
                "SELECT max(length(event_id)) FROM inbox WHERE consumer = 'c'")
            for try await longest in rows.decode(Int.self) {
                #expect(longest <= RequestLimits.maxEventIDBytes)
            }
        }
    }

    @Test("A number JSON cannot hold as a finite Double (1e400) is rejected, never stored")
    func hugeNumber() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let specJSON = String(decoding: try CloudEvent.encode(Self.spec), as: UTF8.self)
            let body = #"{"spec": \#(specJSON), "params": {"limit": 1e400}}"#
            let event = CloudEvent(source: "test", type: EventType.pipelineRequested.rawValue, data: Array(body.utf8))
            let reason = try await rejection(store, event)
            #expect(reason?.contains("params.limit") == true, "\(String(describing: reason))")
            let rows = try await store.client.query("SELECT count(*) FROM runs")
            for try await count in rows.decode(Int.self) { #expect(count == 0) }
        }
    }

    @Test("A request within every limit still makes a run")
    func withinLimits() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let payload = PipelineRequested(
                spec: Self.spec, params: ["limit": .string("2.5")], idempotencyKey: String(repeating: "k", count: 256),
                labels: ["team": String(repeating: "v", count: 256)], requestedBy: "tester")
            let outcome = try await store.runs.handleRequest(consumer: "c", policy: .tests, event: try request(payload))
            guard case .created = outcome else {
                Issue.record("expected a run, got \(outcome)")
                return
            }
        }
    }
}
