import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// A worker that ends an attempt applies its outcome and claims the next attempt itself
/// (``EngineConfiguration/directHandOff``), through a real `baton serve`, broker and database.
@Suite("Direct hand-off", .serialized, .timeLimit(.minutes(5)))
struct DirectHandOffTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: direct}
        stages:
          - {name: first, kind: noop}
          - {name: flaky, kind: noop, needs: [first], noop: {fail_attempts: 1}, retries: {limit: 1, backoff: 2s}}
          - {name: left, kind: noop, needs: [flaky]}
          - {name: right, kind: noop, needs: [flaky]}
          - {name: last, kind: noop, needs: [left, right]}
        """

    /// Runs the spec once with `BATON_DIRECT_HANDOFF=<setting>`; the run, how many outcomes the
    /// worker applied itself (inbox rows `<attempt>/outcome`), and how many `stage.ready` events
    /// the run wrote.
    func run(directHandOff setting: String) async throws -> (run: RunView, appliedByWorker: Int, readyEvents: Int) {
        let fixture = try await EngineFixture(environment: ["BATON_DIRECT_HANDOFF": setting])
        let serve = try fixture.serve("direct-\(setting)")
        let submitted = try await fixture.baton("submit", try fixture.specFile(Self.spec))
        let runID = try #require(UUID(uuidString: submitted.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let run = try #require(try await fixture.waitForRuns([runID]).first)
        let applied = try await fixture.count(
            """
            SELECT count(*)::int FROM inbox WHERE consumer = 'coordinator' AND run_id = \(runID)
              AND event_id LIKE '%/outcome'
            """)
        // Exactly once, whichever way: each attempt executed once, no stage queued twice.
        let executions = try await fixture.count(
            "SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID) AND executions <> 1")
        #expect(executions == 0, "\(serve.log.suffix(3000))")
        let ready = try await fixture.count(
            "SELECT count(*)::int FROM outbox WHERE key = \(runID.lowercased) AND event_type = 'stage.ready'")
        // Every attempt announced its start once, however it was claimed.
        let started = try await fixture.count(
            "SELECT count(*)::int FROM outbox WHERE key = \(runID.lowercased) AND event_type = 'stage.started'")
        #expect(started == 6)
        await serve.stop()
        return (run, applied, ready)
    }

    @Test(
        "On: every outcome is applied by its worker, which claims the next attempt without a stage.ready; the retry still backs off; the run is as without it"
    )
    func directAndBrokered() async throws {
        let direct = try await run(directHandOff: "on")
        #expect(direct.run.state == .succeeded)
        let attempts = Dictionary(uniqueKeysWithValues: direct.run.stages.map { ($0.name, $0.attempts) })
        #expect(attempts == ["first": 1, "flaky": 2, "left": 1, "right": 1, "last": 1])
        // Six attempts ended in this worker; each outcome was applied there first (the events that
        // followed changed nothing), and the retry was not claimed before its backoff.
        #expect(direct.appliedByWorker == 6)
        // Claimed in the hand-off's transaction, an attempt needs no stage.ready: only first's,
        // flaky's retry (due after its backoff) and right's (left was claimed beside it) are left;
        // one more where the coordinator applied an outcome before its worker's hand-off took the
        // run's lock (the worker's transaction then changes nothing).
        #expect((3..<6).contains(direct.readyEvents), "\(direct.readyEvents) stage.ready events")
        let flaky = try #require(direct.run.stages.first { $0.name == "flaky" })
        let tries = flaky.attemptHistory.sorted { $0.attempt < $1.attempt }
        if tries.count == 2, let failed = tries[0].finishedAt, let retried = tries[1].startedAt {
            #expect(
                retried.timeIntervalSince(failed) >= 1.9,
                "the retry started \(retried.timeIntervalSince(failed)) s after")
        }
        let brokered = try await run(directHandOff: "off")
        #expect(brokered.run.state == .succeeded)
        #expect(brokered.appliedByWorker == 0)
        #expect(brokered.readyEvents == 6)
        #expect(
            Dictionary(uniqueKeysWithValues: brokered.run.stages.map { ($0.name, $0.attempts) }) == attempts)
    }

    @Test("A hand-off transaction that fails loses no end: the worker ends the attempt alone and says so")
    func failedHandOffKeepsTheEnd() async throws {
        let fixture = try await EngineFixture(environment: ["BATON_DIRECT_HANDOFF": "on"])
        let serve = try fixture.serve("direct-fallback")
        let spec = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: direct-fallback}
            stages:
              - {name: slow, kind: noop, noop: {sleep: 3s}}
              - {name: next, kind: noop, needs: [slow]}
            """
        let submitted = try await fixture.baton("submit", try fixture.specFile(spec))
        let runID = try #require(UUID(uuidString: submitted.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        try await fixture.waitUntil("slow runs", timeout: .seconds(60)) {
            try await fixture.count(
                "SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID) AND state = 'running'") == 1
        }
        // While it sleeps, the run's spec becomes unreadable: the planner's step of the hand-off
        // fails, and with it the transaction the end was written in.
        try await fixture.withStore { store in
            try await store.client.query("UPDATE runs SET spec_yaml = 'stages: [' WHERE id = \(runID)")
        }
        try await fixture.waitUntil("slow's end is recorded", timeout: .seconds(60)) {
            try await fixture.count(
                "SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID) AND stage = 'slow' AND state = 'succeeded'"
            )
                == 1
        }
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM outbox WHERE key = \(runID.lowercased) AND event_type = 'stage.succeeded'")
                == 1)
        // Nothing was applied or claimed by the worker.
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID) AND stage = 'next'") == 0)
        #expect(serve.log.contains("ending the attempt with its direct hand-off failed; ending it alone"))
        await serve.stop()
    }
}
