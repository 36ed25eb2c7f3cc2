import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

/// kill -9 of `baton serve` in the middle of 20 runs, then a restart.
@Suite("Crash recovery", .serialized, .timeLimit(.minutes(5)))
struct CrashRecoveryTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: crash-me}
        defaults: {pool: default, timeout: 2m}
        stages:
          - {name: preprocess, kind: noop, noop: {sleep: 400ms}}
          - {name: cpt, kind: noop, needs: [preprocess], noop: {sleep: 400ms}}
          - {name: sft, kind: noop, needs: [cpt], noop: {sleep: 400ms}}
          - {name: rlhf, kind: noop, needs: [sft], noop: {sleep: 400ms}}
          - {name: evaluate, kind: noop, needs: [rlhf], noop: {sleep: 400ms}}
          - {name: gate, kind: noop, needs: [evaluate], noop: {sleep: 400ms}}
          - {name: register, kind: noop, needs: [gate], noop: {sleep: 400ms}}
          - {name: rollout, kind: noop, needs: [register], noop: {sleep: 400ms}}
        """

    @Test("All 20 runs in flight at kill -9 succeed after a restart, each attempt executed exactly once")
    func killNine() async throws {
        let fixture = try await EngineFixture()
        let specFile = try fixture.specFile(Self.spec)
        var runIDs: [UUID] = []
        for _ in 0..<20 {
            let result = try await fixture.baton("submit", specFile)
            runIDs.append(try #require(UUID(uuidString: result.output.trimmingCharacters(in: .whitespacesAndNewlines))))
        }
        let first = try fixture.serve("crash-1")
        // Kill while work is in flight: some stages done, several running, no run finished.
        let deadline = ContinuousClock.now + .seconds(90)
        var running = 0
        while ContinuousClock.now < deadline {
            running = try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE state = 'running'")
            let succeeded = try await fixture.count(
                "SELECT count(*)::int FROM stage_attempts WHERE state = 'succeeded'")
            if running >= 5 && succeeded >= 20 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await first.kill9()
        #expect(running >= 5, "the kill should hit running attempts")
        // On a loaded machine a run may end before the kill lands; most must be in flight.
        let unfinished = try await fixture.count("SELECT count(*)::int FROM runs WHERE state = 'running'")
        #expect(unfinished >= 15, "the kill should hit runs in flight")

        let second = try fixture.serve("crash-2")
        let views = try await fixture.waitForRuns(runIDs, timeout: .seconds(180))
        #expect(views.allSatisfy { $0.state == .succeeded })
        #expect(views.allSatisfy { $0.stages.allSatisfy { $0.state == .succeeded } })
        // Exactly once per attempt: no attempt executed twice, every succeeded attempt executed once.
        #expect(try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE executions > 1") == 0)
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM stage_attempts WHERE state = 'succeeded' AND executions <> 1") == 0)
        // One succeeded attempt per stage; the interrupted ones were given up as lost and re-run.
        #expect(
            try await fixture.count(
                """
                SELECT count(*)::int FROM (SELECT run_id, stage FROM stage_attempts WHERE state = 'succeeded'
                GROUP BY run_id, stage HAVING count(*) <> 1) AS doubled
                """) == 0)
        #expect(try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE state = 'succeeded'") == 160)
        #expect(try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE state = 'lost'") >= 1)
        await second.stop()
    }
}
