import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

/// Retries with backoff, timeouts, cancellation and `when`, through a running `baton serve`.
@Suite("Stage behaviour", .serialized, .timeLimit(.minutes(5)))
struct StageBehaviourTests {
    static func spec(name: String, stage: String, params: String = "{}") -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: \(name)}
        params: \(params)
        stages:
        \(stage)
        """
    }

    func submit(_ fixture: EngineFixture, _ yaml: String) async throws -> UUID {
        let result = try await fixture.baton("submit", try fixture.specFile(yaml))
        let id = try #require(UUID(uuidString: result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        return id
    }

    @Test("Retries back off exponentially; exhausted retries fail the run; timeouts and when are honoured")
    func retriesTimeoutsAndWhen() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("behaviour")
        let flaky = try await submit(
            fixture,
            Self.spec(
                name: "flaky",
                stage: """
                      - {name: train, kind: noop, noop: {fail_attempts: 2}, retries: {limit: 2, backoff: 1s, factor: 2}}
                    """))
        let hopeless = try await submit(
            fixture,
            Self.spec(
                name: "hopeless",
                stage: """
                      - {name: train, kind: noop, noop: {fail_attempts: 5}, retries: {limit: 1, backoff: 500ms}}
                      - {name: after, kind: noop, needs: [train]}
                    """))
        let slow = try await submit(
            fixture,
            Self.spec(name: "slow", stage: "  - {name: train, kind: noop, noop: {sleep: 30s}, timeout: 1s, retries: 0}")
        )
        let conditional = try await submit(
            fixture,
            Self.spec(
                name: "conditional",
                stage: """
                      - {name: prepare, kind: noop}
                      - {name: tune, kind: noop, needs: [prepare], when: "params.tune && params.budget > 10"}
                      - {name: evaluate, kind: noop, needs: [tune]}
                    """, params: "{tune: {type: boolean, default: true}, budget: {type: integer, default: 5}}"))

        let views = try await fixture.waitForRuns([flaky, hopeless, slow, conditional])
        let byID = Dictionary(uniqueKeysWithValues: views.map { ($0.runId, $0) })

        let flakyRun = try #require(byID[flaky.lowercased])
        #expect(flakyRun.state == .succeeded)
        let attempts = try #require(flakyRun.stages.first?.attemptHistory)
        try #require(attempts.map(\.state) == [.failed, .failed, .succeeded])
        let finished = attempts.map { $0.finishedAt ?? .distantFuture }
        let started = attempts.map { $0.startedAt ?? .distantPast }
        let gap1 = started[1].timeIntervalSince(finished[0])
        let gap2 = started[2].timeIntervalSince(finished[1])
        #expect(gap1 >= 0.95 && gap1 < 5, "first backoff \(gap1)s")
        #expect(gap2 >= 1.95 && gap2 < 6, "second backoff \(gap2)s")

        let hopelessRun = try #require(byID[hopeless.lowercased])
        #expect(hopelessRun.state == .failed)
        #expect(
            hopelessRun.reason?.contains("stage train failed after 2 attempt(s): noop stage failed on purpose") == true)
        #expect(hopelessRun.stages.map(\.state) == [.failed, .cancelled])

        let slowRun = try #require(byID[slow.lowercased])
        #expect(slowRun.state == .failed)
        #expect(slowRun.stages.first?.attemptHistory.first?.state == .timedOut)
        #expect(slowRun.reason?.contains("timeout") == true)
        let slowDuration = try #require(slowRun.finishedAt?.timeIntervalSince(slowRun.createdAt))
        #expect(slowDuration < 10, "a 1s timeout ended a 30s stage after \(slowDuration)s")

        let conditionalRun = try #require(byID[conditional.lowercased])
        #expect(conditionalRun.state == .succeeded)
        #expect(conditionalRun.stages.map(\.state) == [.succeeded, .skipped, .succeeded])
        #expect(conditionalRun.stages[1].reason == "when 'params.tune && params.budget > 10' is false")
        await serve.stop()
    }

    @Test("baton runs cancel stops a running stage, fences its worker out, and cancels the rest")
    func cancellation() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("cancel")
        let runID = try await submit(
            fixture,
            Self.spec(
                name: "long",
                stage: """
                      - {name: train, kind: noop, noop: {sleep: 60s}}
                      - {name: evaluate, kind: noop, needs: [train]}
                    """))
        // Wait until the stage really runs.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let running = try await fixture.count(
                "SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID) AND state = 'running'")
            if running == 1 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let cancelled = try await fixture.baton("runs", "cancel", runID.lowercased, "--reason", "wrong dataset")
        #expect(cancelled.status == 0)
        let view = try #require(try await fixture.waitForRuns([runID], timeout: .seconds(30)).first)
        #expect(view.state == .cancelled)
        #expect(view.reason?.contains("wrong dataset") == true)
        #expect(view.stages.map(\.state) == [.cancelled, .cancelled])
        #expect(view.stages[0].attemptHistory.map(\.state) == [.cancelled])
        #expect(view.stages[0].attemptHistory.first?.executions == 1)
        // The worker is still sleeping; once it renews its lease it must stop without writing.
        try await Task.sleep(for: .seconds(2))
        #expect(
            try await fixture.withStore { try await $0.runs.run(runID) }?.stages[0].attemptHistory.map(\.state) == [
                .cancelled
            ])
        #expect(serve.log.contains("lease lost; stopping"))
        await serve.stop()
    }
}
