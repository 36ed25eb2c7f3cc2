import BatonCore
import Foundation
import Testing

/// `kind: Schedule` documents: what is read, defaults, and the problems named.
@Suite("Schedule specs")
struct ScheduleSpecTests {
    @Test("A schedule's pipeline, cron, time zone, params and policy are read; defaults are Allow, no catch-up, UTC")
    func read() throws {
        let spec = try ScheduleSpecParser.parse(
            """
            apiVersion: baton/v1
            kind: Schedule
            metadata: {name: nightly}
            spec:
              pipeline: korean-llm
              cron: "0 3 * * *"
              timeZone: Asia/Seoul
              params: {profile: tiny}
              concurrencyPolicy: Forbid
              catchUp: 2
              startingDeadline: 10m
            """)
        #expect(spec.name == "nightly" && spec.pipeline == "korean-llm")
        #expect(spec.cron.description == "0 3 * * *" && spec.timeZone.identifier == "Asia/Seoul")
        #expect(spec.params == ["profile": .string("tiny")])
        #expect(spec.concurrencyPolicy == .forbid && spec.catchUp == 2 && spec.startingDeadline == .seconds(600))
        let minimal = try ScheduleSpecParser.parse(
            "apiVersion: baton/v1\nkind: Schedule\nmetadata: {name: m}\nspec: {pipeline: p, cron: '* * * * *'}")
        #expect(minimal.concurrencyPolicy == .allow && minimal.catchUp == 0 && minimal.startingDeadline == nil)
        #expect(minimal.timeZone.secondsFromGMT() == 0)
    }

    @Test(
        "Problems name the field",
        arguments: [
            ("cron: '61 * * * *'", "spec.cron: minute field"),
            ("cron: '* * * * *', timeZone: Mars/Base", "spec.timeZone"),
            ("cron: '* * * * *', concurrencyPolicy: Sometimes", "must be Allow, Forbid or Replace"),
            ("cron: '* * * * *', catchUp: 1000", "spec.catchUp: must be a whole number from 0 to 100"),
            ("cron: '* * * * *', startingDeadline: soon", "spec.startingDeadline"),
            ("cron: '* * * * *', every: day", "spec.every: unknown field"),
            ("timeZone: UTC", "spec.cron: is required"),
        ])
    func refused(fields: String, problem: String) {
        let yaml = "apiVersion: baton/v1\nkind: Schedule\nmetadata: {name: s}\nspec: {pipeline: p, \(fields)}"
        let error = #expect(throws: SpecError.self) { try ScheduleSpecParser.parse(yaml) }
        #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
    }
}
