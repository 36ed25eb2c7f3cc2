import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

/// What an operator reads at `/metrics` of a real `baton serve` (real broker, database and
/// MLflow): the backlog, stage durations, queue waits, consumer lag, outbound calls.
@Suite("Metrics end to end", .serialized, .timeLimit(.minutes(5)))
struct MetricsEndToEndTests {
    /// `/metrics` as `series -> value`, e.g. `baton_outbox_pending` -> 0.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// The series of `name` whose labels include every one of `labels`.
    static func series(_ samples: [String: Double], _ name: String, _ labels: String...) -> [String: Double] {
        samples.filter { key, _ in
            (key == name || key.hasPrefix(name + "{")) && labels.allSatisfy { key.contains($0) }
        }
    }

    @Test("After a run: stage durations, queue waits, the finished run, an empty backlog, consumer lag, MLflow calls")
    func afterARun() async throws {
        let fixture = try await EngineFixture(environment: [
            "BATON_MLFLOW_URI": try TestStack.variable("BATON_MLFLOW_URI"),
            "BATON_MLFLOW_EXPERIMENT_PREFIX": "metrics-\(UUID().lowercased)-",
        ])
        let serve = try fixture.serve("metrics")
        let submitted = try await fixture.baton("submit", "examples/korean-llm-noop.yaml", "--wait", "--json")
        #expect(submitted.status == 0, "\(submitted.output)\n\(serve.log.suffix(3000))")
        var samples: [String: Double] = [:]
        try await fixture.waitUntil("the backlog gauges report the finished run", timeout: .seconds(60)) {
            samples = Self.samples(try await fixture.get("/metrics").body)
            return samples[#"baton_runs{state="running"}"#] == 0 && samples["baton_outbox_pending"] == 0
                && samples["baton_mlflow_mirror_lag_seconds"] == 0
                && !Self.series(samples, "baton_http_client_requests_total", #"service="MLflow""#).isEmpty
        }
        let pipeline = #"pipeline="korean-llm-noop""#
        let durations = Self.series(samples, "baton_stage_duration_seconds_count", pipeline, #"outcome="succeeded""#)
        #expect(durations.count == 8, "\(durations)")
        #expect(durations.values.allSatisfy { $0 == 1 })
        #expect(Self.series(samples, "baton_queue_wait_seconds_count", #"pool="default""#).values.first == 8)
        #expect(Self.series(samples, "baton_runs_finished_total", pipeline, #"state="succeeded""#).values.first == 1)
        #expect(samples["baton_runs_stalled"] == 0)
        #expect(samples["baton_outbox_oldest_pending_seconds"] == 0)
        #expect(samples["baton_outbox_published_total"].map { $0 >= 8 } == true)
        // librdkafka's statistics: the coordinator's group holds partitions and has consumed them.
        let lag = Self.series(samples, "baton_consumer_lag_messages", #"group="\#(fixture.prefix).coordinator""#)
        #expect(!lag.isEmpty, "\(samples.keys.filter { $0.contains("lag") })")
        // Outbound calls carry the service, an endpoint template (no run ids) and the status class.
        let calls = Self.series(samples, "baton_http_client_requests_total", #"service="MLflow""#, #"outcome="2xx""#)
        #expect(!calls.isEmpty)
        #expect(calls.keys.allSatisfy { !$0.contains("-4") }, "an id leaked into an endpoint label: \(calls.keys)")
        // Each step of the hand-offs: the first stage.ready came through the broker (the rest may
        // have been claimed by the direct hand-off, without one); the relay published at least the
        // 8 outcomes and 8 stage.started events, and the coordinator received them all.
        func hops(_ consumer: String, _ hop: HandoffHop) -> Double? {
            Self.series(
                samples, "baton_handoff_hop_seconds_count", #"consumer="\#(consumer)""#, #"hop="\#(hop.rawValue)""#
            ).values.first
        }
        #expect(hops("worker", .executionWait).map { $0 >= 1 } == true)
        #expect(hops("relay", .relayPublish).map { $0 >= 16 } == true)
        #expect(hops("relay", .outboxWait).map { $0 >= 16 } == true)
        #expect(hops("coordinator", .delivery).map { $0 >= 8 } == true)
        #expect(hops("coordinator", .laneWait) == hops("coordinator", .delivery))
        #expect(hops("worker", .offsetCommit).map { $0 >= 1 } == true)
        // The process's own figures, as Prometheus' process collector names them.
        #expect(samples["process_cpu_seconds_total"].map { $0 > 0 } == true)
        #expect(samples["process_resident_memory_bytes"].map { $0 > 10_000_000 } == true)
        #expect(
            samples["process_max_resident_memory_bytes"].map { $0 >= samples["process_resident_memory_bytes"]! } == true
        )
        // Every baton_* series is declared in the catalog `baton metrics` prints.
        let declared = Set(
            MetricCatalog.all.flatMap { metric in
                metric.kind == .histogram
                    ? ["_bucket", "_sum", "_count"].map { metric.name + $0 } : [metric.name]
            })
        let exported = Set(samples.keys.map { String($0.prefix { $0 != "{" }) }.filter { $0.hasPrefix("baton_") })
        #expect(exported.subtracting(declared).isEmpty, "undeclared: \(exported.subtracting(declared))")
        await serve.stop()
    }

    @Test("A run with nothing in flight for the stall window and a parked outbox row show in the gauges")
    func stalledAndParked() async throws {
        let fixture = try await EngineFixture(environment: ["BATON_STALLED_RUN_SECONDS": "60"])
        // A run the engine lost track of (its events gone), as a bug or a lost database write
        // would leave it; and a row the broker refused for good.
        _ = try await fixture.count(
            """
            WITH run AS (
                INSERT INTO runs (id, pipeline_name, spec_yaml, state, request_event_id, created_at)
                VALUES (\(UUID()), 'lost', '', 'running', 'lost-request', now() - interval '10 minutes')
                RETURNING 1
            ), parked AS (
                INSERT INTO outbox (event_id, event_type, source, topic, payload, failed_at, error)
                VALUES ('parked-event', 'run.started', 'test', 'nowhere', '\\x00', now(), 'refused')
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM run)::int + (SELECT count(*) FROM parked)::int
            """)
        let serve = try fixture.serve("stalled")
        var samples: [String: Double] = [:]
        try await fixture.waitUntil("the stalled run and the parked row are reported", timeout: .seconds(60)) {
            samples = Self.samples(try await fixture.get("/metrics").body)
            return samples["baton_runs_stalled"] == 1
        }
        #expect(samples["baton_outbox_parked"] == 1)
        #expect(samples[#"baton_runs{state="running"}"#] == 1)
        #expect(samples["baton_outbox_pending"] == 0)
        await serve.stop()
    }
}
