import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The trace context an outbox row keeps (`outbox.traceparent`).
@Suite("Outbox trace context (real PostgreSQL)", .timeLimit(.minutes(2)))
struct OutboxTraceContextTests {
    @Test(
        "A W3C traceparent is kept with its event; anything else a producer sent is dropped, and the event still enqueued"
    )
    func onlyW3CIsKept() async throws {
        let database = try await ScratchDatabase.create()
        let runID = UUID()
        let valid = "00-\(RunTrace.traceID(of: runID))-00f067aa0ba902b7-01"
        let sent = [valid, String(repeating: "x", count: 4096), "00-zz-yy-01"]
        let stored = try await database.withStore { store in
            for (index, traceparent) in sent.enumerated() {
                let event = CloudEvent(
                    id: "trace-\(index)", source: "baton/tests", type: "run.cancel", subject: "run/\(runID.lowercased)",
                    traceparent: traceparent, data: Array("{}".utf8))
                try await store.messaging.enqueue(event, topic: "baton.run.events", key: runID.lowercased)
            }
            var rows: [String?] = []
            let result = try await store.client.query("SELECT traceparent FROM outbox ORDER BY event_id")
            for try await traceparent in result.decode(String?.self) { rows.append(traceparent) }
            return rows
        }
        #expect(stored == [valid, nil, nil])
    }
}
