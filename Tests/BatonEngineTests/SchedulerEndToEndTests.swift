import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// Schedules (`kind: Schedule`) fired by real coordinators against the real database and broker.
@Suite("Schedules end to end", .serialized, .timeLimit(.minutes(6)))
struct SchedulerEndToEndTests {
    static let pipeline = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: scheduled}
        params:
          sleep: {type: string, default: 10ms}
        stages:
          - {name: work, kind: noop, noop: {sleep: 10ms}}
        """

    static func schedule(_ name: String, cron: String, policy: String = "Allow", pipeline: String = "scheduled")
        -> String
    {
        """
        apiVersion: baton/v1
        kind: Schedule
        metadata: {name: \(name)}
        spec: {pipeline: \(pipeline), cron: '\(cron)', concurrencyPolicy: \(policy), catchUp: 3}
        """
    }

    /// The ticks of `schedule`, in order, with their outcomes.
    static func ticks(_ fixture: EngineFixture, _ schedule: String) async throws -> [(tick: Date, outcome: String)] {
        try await fixture.withStore { store in
            var ticks: [(Date, String)] = []
            let rows = try await store.client.query(
                "SELECT tick, outcome FROM schedule_ticks WHERE schedule = \(schedule) ORDER BY tick")
            for try await row in rows.decode((Date, String).self) { ticks.append(row) }
            return ticks
        }
    }

    @Test(
        "Two coordinators and a kill -9 in the middle: a schedule every 10 s for two minutes makes exactly one run per tick"
    )
    func oneRunPerTick() async throws {
        let fixture = try await EngineFixture()
        #expect(try await fixture.baton("pipelines", "apply", try fixture.specFile(Self.pipeline)).status == 0)
        let first = try fixture.serve("schedule-a")
        let second = try BatonProcess(
            ["serve", "--roles", "coordinator"],
            environment: fixture.environment.merging(["BATON_METRICS_ADDRESS": "off", "BATON_API_ADDRESS": "off"]) {
                $1
            }, logName: "\(fixture.prefix)-schedule-b")
        let applied = try await fixture.baton(
            "schedules", "apply", try fixture.specFile(Self.schedule("every-10s", cron: "*/10 * * * * *")))
        #expect(applied.status == 0, "\(applied.output)")
        try await Task.sleep(for: .seconds(60))
        await first.kill9()
        try await Task.sleep(for: .seconds(3))
        let restarted = try fixture.serve("schedule-a2")
        try await Task.sleep(for: .seconds(57))
        #expect(try await fixture.baton("schedules", "pause", "every-10s").status == 0)
        let listed = try await fixture.baton("schedules", "list", "--json")
        let views = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]
        #expect(views?.first?["paused"] as? Bool == true, "\(listed.output)")
        let ticks = try await Self.ticks(fixture, "every-10s")
        #expect(ticks.count >= 11, "\(ticks.map(\.tick))")
        #expect(ticks.allSatisfy { $0.outcome == "requested" })
        // Every 10 s, none missed and none twice, across the kill.
        let gaps = zip(ticks.dropFirst(), ticks).map { $0.tick.timeIntervalSince($1.tick) }
        #expect(gaps.allSatisfy { $0 == 10 }, "gaps between ticks: \(gaps)")
        let requests = try await fixture.count(
            "SELECT count(*)::int FROM run_requests WHERE requested_by = 'schedule:every-10s'")
        #expect(requests == ticks.count)
        try await fixture.waitUntil("every tick's run has ended", timeout: .seconds(60)) {
            try await fixture.count(
                "SELECT count(*)::int FROM runs WHERE labels->>'schedule' = 'every-10s' AND state = 'succeeded'")
                == ticks.count
        }
        #expect(
            try await fixture.count(
                "SELECT count(DISTINCT labels->>'schedule_tick')::int FROM runs WHERE labels->>'schedule' = 'every-10s'"
            )
                == ticks.count)
        await restarted.stop()
        await second.stop()
    }

    @Test(
        "Forbid skips a tick while the last run runs; trigger fires now; pause holds ticks; a bad spec or pipeline is refused"
    )
    func policyAndCommands() async throws {
        let fixture = try await EngineFixture()
        let slow = Self.pipeline.replacingOccurrences(of: "sleep: 10ms}", with: "sleep: 12s}")
        #expect(try await fixture.baton("pipelines", "apply", try fixture.specFile(slow)).status == 0)
        let serve = try fixture.serve("schedule-forbid")
        let applied = try await fixture.baton(
            "schedules", "apply", try fixture.specFile(Self.schedule("forbid", cron: "*/3 * * * * *", policy: "Forbid"))
        )
        #expect(applied.status == 0, "\(applied.output)")
        try await fixture.waitUntil("a tick is skipped while the first run runs", timeout: .seconds(30)) {
            try await Self.ticks(fixture, "forbid").contains { $0.outcome == "skipped_running" }
        }
        #expect(try await fixture.baton("schedules", "pause", "forbid").status == 0)
        let held = try await Self.ticks(fixture, "forbid").count
        try await Task.sleep(for: .seconds(7))
        #expect(try await Self.ticks(fixture, "forbid").count == held, "a paused schedule fires nothing")
        let triggered = try await fixture.baton("schedules", "trigger", "forbid")
        #expect(triggered.status == 0 && triggered.output.contains("forbid:"), "\(triggered.output)")
        #expect(try await Self.ticks(fixture, "forbid").count == held + 1)
        #expect(try await fixture.baton("schedules", "trigger", "nope").status != 0)
        let unknown = try await fixture.baton(
            "schedules", "apply", try fixture.specFile(Self.schedule("orphan", cron: "* * * * *", pipeline: "missing")))
        #expect(unknown.status != 0 && unknown.output.contains("pipeline 'missing'"), "\(unknown.output)")
        let badCron = try await fixture.baton(
            "schedules", "apply", try fixture.specFile(Self.schedule("bad", cron: "* * *")))
        #expect(badCron.status != 0 && badCron.output.contains("has 3 fields"), "\(badCron.output)")
        await serve.stop()
    }
}
