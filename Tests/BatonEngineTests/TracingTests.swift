import BatonCore
import BatonKafka
import BatonTestSupport
import Foundation
import Hummingbird
import Synchronization
import Testing

/// Spans exported by OTLP (`OTEL_EXPORTER_OTLP_ENDPOINT`) from a real `baton serve`, received by
/// an OTLP/HTTP receiver in this test process.
@Suite("Traces by OTLP end to end", .serialized, .timeLimit(.minutes(4)))
struct TracingTests {
    static let program = #"""
        import json, os
        print("::baton::metric " + json.dumps({"key": "traced", "value": 1.0 if os.environ.get("TRACEPARENT") else 0.0, "step": 0}))
        print("TRACEPARENT=" + os.environ.get("TRACEPARENT", ""), flush=True)
        """#

    @Test(
        "A run's spans (coordinator, relay, worker, Ray calls) share its trace id, each event on the broker carries the span of its publication, and the work nests"
    )
    func runTrace() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.stop() }
        let fixture = try await EngineFixture(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        ])
        let serve = try fixture.serve("traces")
        let folder = try EngineFixture.jobFolder(program: Self.program)
        let spec = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: traced}
            defaults: {pool: cpu, timeout: 3m, retries: {limit: 0, backoff: 1s}}
            stages:
              - {name: prepare, kind: noop}
              - {name: train, needs: [prepare], ray: \(EngineFixture.rayBody(folder))}
              - {name: evaluate, kind: noop, needs: [train]}
            """
        let submitted = try await fixture.baton("submit", try fixture.specFile(spec), "--wait", "--json")
        #expect(submitted.status == 0, "\(submitted.output)\n\(serve.log.suffix(3000))")
        let runID = try #require(
            (try JSONSerialization.jsonObject(with: Data(submitted.output.utf8)) as? [String: Any])?["run_id"]
                as? String)
        let traceID = runID.replacingOccurrences(of: "-", with: "")
        let events = try await JSONLogsTests.records(fixture, topic: fixture.topics.runEvents, key: runID)
        #expect(events.count == 8, "run.started, 3 stage.started and stage.succeeded, run.succeeded: \(events.count)")
        await serve.stop()  // flushes what the batch processor holds

        try await fixture.waitUntil("the relay's spans arrive", timeout: .seconds(30)) {
            receiver.spans.filter { $0.traceID == traceID && $0.name.hasPrefix("relay publish") }.count >= events.count
        }
        let spans = receiver.spans
        let ofRun = spans.filter { $0.traceID == traceID }
        let byID = Dictionary(ofRun.map { ($0.spanID, $0) }) { first, _ in first }
        // Every span that names the run is in the run's trace.
        #expect(spans.filter { $0.attributes["baton.run_id"] == runID }.allSatisfy { $0.traceID == traceID })
        let names = Set(ofRun.map(\.name))
        for expected in [
            "coordinator accept", "relay publish stage.ready", "relay publish run.succeeded",
            "coordinator stage.succeeded", "worker stage.ready", "execute noop", "POST /api/jobs/",
        ] {
            #expect(names.contains(expected), "no \(expected) span in \(names.sorted())")
        }
        // The Ray job is followed by the worker that submitted it or, when the worker's 3 s lease
        // ran out on a busy host, by the watcher that adopted the attempt.
        let followers: Set = ["execute ray", "watcher follow"]
        #expect(!names.isDisjoint(with: followers), "no span follows the Ray job in \(names.sorted())")
        // Each event on the broker carries the context of its own publication span.
        for event in events {
            let traceparent = event.header("traceparent")?.value.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let parts = traceparent.split(separator: "-").map(String.init)
            #expect(parts.count == 4 && parts[1] == traceID, "\(traceparent)")
            if parts.count == 4 {
                #expect(byID[parts[2]]?.name.hasPrefix("relay publish") == true, "\(traceparent) is no exported span")
            }
        }
        // The work nests: a worker's execution under its stage.ready handling; the Ray job's
        // submission under that handling too (it is recorded before the offset is committed),
        // the polls of its status under the execution; and a later stage's start published under
        // the handling of the stage before it
        for execute in ofRun where execute.name.hasPrefix("execute ") {
            #expect(byID[execute.parentID]?.name == "worker stage.ready", "\(execute)")
        }
        // A Ray stage claimed by the direct hand-off is submitted under that hand-off's span.
        let claimers = ["worker stage.ready", "worker hand-off"]
        let submission = try #require(ofRun.first { $0.name == "POST /api/jobs/" })
        #expect(claimers.contains(byID[submission.parentID]?.name ?? "none"))
        #expect(submission.attributes["http.response.status_code"] == "200")
        let reads = ofRun.filter { $0.name.hasPrefix("GET /api/jobs/") }
        let readParents = reads.map { byID[$0.parentID]?.name ?? "none" }
        // Never under another role's work (a read whose parent was not exported names "none").
        #expect(
            readParents.allSatisfy { !$0.hasPrefix("coordinator") && !$0.hasPrefix("relay") }, "\(readParents) \(reads)"
        )
        #expect(readParents.filter { followers.contains($0) }.count >= 2, "the follower polls the job: \(reads)")
        // (by the coordinator's stage.ready, or by the worker that ran the stage before: the
        // direct hand-off claims the stage and writes its stage.started).
        let startAfterOutcome = ofRun.filter {
            let parent = byID[$0.parentID]?.name
            return ($0.name == "relay publish stage.ready" && parent == "coordinator stage.succeeded")
                || ($0.name == "relay publish stage.started" && parent == "worker hand-off")
        }
        #expect(startAfterOutcome.count == 2, "train's and evaluate's start follows an outcome: \(startAfterOutcome)")
    }
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, JSON encoding) that keeps the spans it is sent.
final class OTLPReceiver: Sendable {
    /// One received span, ids in lower-case hex.
    struct Span: CustomStringConvertible {
        var traceID: String
        var spanID: String
        var parentID: String
        var name: String
        /// Attributes as strings (numbers written out).
        var attributes: [String: String]

        var description: String { "\(name) \(spanID) parent \(parentID)" }
    }

    let port: Int
    private let received = Mutex<[Span]>([])
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)

    private init(port: Int) { self.port = port }

    var url: String { "http://127.0.0.1:\(port)" }
    var spans: [Span] { received.withLock { $0 } }

    /// Starts a receiver on a free port.
    static func start() async throws -> OTLPReceiver {
        let receiver = OTLPReceiver(port: EngineFixture.freePort())
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            receiver.keep(Data(body.readableBytesView))
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        let (listening, signal) = AsyncStream.makeStream(of: Void.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: receiver.port)),
            onServerRunning: { _ in signal.finish() })
        receiver.task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        for await _ in listening {}
        return receiver
    }

    func stop() { task.withLock { $0?.cancel() } }

    /// Keeps the spans of an `ExportTraceServiceRequest` in JSON.
    private func keep(_ body: Data) {
        guard let request = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return }
        var spans: [Span] = []
        for resource in request["resourceSpans"] as? [[String: Any]] ?? [] {
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    var attributes: [String: String] = [:]
                    for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                        guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any]
                        else { continue }
                        attributes[key] = value.values.first.map { "\($0)" }
                    }
                    spans.append(
                        Span(
                            traceID: Self.hex(span["traceId"]), spanID: Self.hex(span["spanId"]),
                            parentID: Self.hex(span["parentSpanId"]), name: span["name"] as? String ?? "",
                            attributes: attributes))
                }
            }
        }
        received.withLock { $0 += spans }
    }

    /// An id as hex: OTLP/JSON writes ids in hex, protobuf's JSON mapping in base64; both are read.
    private static func hex(_ value: Any?) -> String {
        guard let text = value as? String, !text.isEmpty else { return "" }
        if text.count == 16 || text.count == 32, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        guard let bytes = Data(base64Encoded: text) else { return text }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
