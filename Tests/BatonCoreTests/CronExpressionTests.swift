import BatonCore
import Foundation
import Testing

/// Cron expressions: what they name, on which wall clock, and what they refuse.
@Suite("Cron expressions")
struct CronExpressionTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let seoul = TimeZone(identifier: "Asia/Seoul")!

    static func date(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    static func ticks(_ expression: String, after start: String, count: Int, in zone: TimeZone = utc) throws -> [String]
    {
        let cron = try CronExpression(expression)
        var ticks: [String] = []
        var last = date(start)
        for _ in 0..<count {
            guard let next = cron.next(after: last, in: zone) else { break }
            ticks.append(next.formatted(.iso8601))
            last = next
        }
        return ticks
    }

    @Test("Six fields step seconds; five fields start at second 0; the tick is strictly after the date")
    func seconds() throws {
        #expect(
            try Self.ticks("*/10 * * * * *", after: "2026-12-03T03:00:05Z", count: 3)
                == ["2026-12-03T03:00:10Z", "2026-12-03T03:00:20Z", "2026-12-03T03:00:30Z"])
        #expect(
            try Self.ticks("*/15 * * * *", after: "2026-12-03T03:00:00Z", count: 2)
                == ["2026-12-03T03:15:00Z", "2026-12-03T03:30:00Z"])
    }

    @Test("The wall clock is the schedule's time zone: 03:00 in Seoul is 18:00 UTC the day before")
    func timeZone() throws {
        #expect(
            try Self.ticks("0 3 * * *", after: "2026-12-03T00:00:00Z", count: 2, in: Self.seoul)
                == ["2026-12-03T18:00:00Z", "2026-12-04T18:00:00Z"])
    }

    @Test("Ranges, lists, steps and names; restricted day of month OR day of week, as in cron")
    func fields() throws {
        // Weekdays at 09:30: 2026-12-04 is a Friday, then Monday the 7th.
        #expect(
            try Self.ticks("30 9 * * MON-FRI", after: "2026-12-04T10:00:00Z", count: 2)
                == ["2026-12-07T09:30:00Z", "2026-12-08T09:30:00Z"])
        // The 1st of the month or any Sunday (0 and 7 both).
        #expect(
            try Self.ticks("0 0 1 * 7", after: "2026-12-01T00:00:00Z", count: 3)
                == ["2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z", "2026-12-20T00:00:00Z"])
        #expect(
            try Self.ticks("0 0 1 JAN,JUL *", after: "2026-12-03T00:00:00Z", count: 2)
                == ["2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"])
        #expect(try Self.ticks("0 12 29 2 *", after: "2026-12-03T00:00:00Z", count: 1) == ["2028-02-29T12:00:00Z"])
        #expect(
            try Self.ticks("0 0 30 2 *", after: "2026-12-03T00:00:00Z", count: 1).isEmpty, "30 February never comes")
    }

    @Test(
        "Malformed expressions are refused naming the field",
        arguments: [
            ("* * * *", "has 4 fields"), ("60 * * * *", "minute field '60'"), ("* 24 * * *", "hour field"),
            ("* * 0 * *", "day of month field"), ("* * * 13 *", "month field"), ("* * * * 8", "day of week field"),
            ("*/0 * * * *", "step '0'"), ("5-1 * * * *", "'5-1' is not a value or range"),
            ("a b c d e", "minute field 'a'"),
        ])
    func refused(expression: String, problem: String) {
        let error = #expect(throws: CronExpression.Invalid.self) { try CronExpression(expression) }
        #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
    }
}
