import Foundation

/// A cron expression: five fields (minute hour day-of-month month day-of-week) as in crontab, or
/// six with seconds first (`*/10 * * * * *`, every ten seconds). Each field is `*`, a value, a
/// range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; months and weekdays also take
/// names (`JAN`, `MON`); Sunday is 0 or 7. As in cron, when both day fields are restricted a day
/// matching either one counts.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let description: String
    private let seconds: Set<Int>
    private let minutes: Set<Int>
    private let hours: Set<Int>
    private let daysOfMonth: Set<Int>
    private let months: Set<Int>
    private let daysOfWeek: Set<Int>
    private let dayOfMonthRestricted: Bool
    private let dayOfWeekRestricted: Bool

    /// Why an expression is not cron.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `text`.
    ///
    /// - Throws: ``Invalid`` naming the field and what is wrong with it.
    public init(_ text: String) throws(Invalid) {
        guard text.utf8.count <= 200 else { throw Invalid(description: "a cron expression has at most 200 bytes") }
        let fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw Invalid(
                description:
                    "'\(text.prefix(60))' has \(fields.count) fields; cron has 5 (minute hour day month weekday) or 6 (seconds first)"
            )
        }
        let all = fields.count == 6 ? fields : ["0"] + fields
        description = text
        seconds = try Self.field(all[0], "second", 0...59)
        minutes = try Self.field(all[1], "minute", 0...59)
        hours = try Self.field(all[2], "hour", 0...23)
        daysOfMonth = try Self.field(all[3], "day of month", 1...31)
        months = try Self.field(all[4], "month", 1...12, names: Self.monthNames)
        daysOfWeek = Set(try Self.field(all[5], "day of week", 0...7, names: Self.dayNames).map { $0 % 7 })
        dayOfMonthRestricted = all[3] != "*" && all[3] != "?"
        dayOfWeekRestricted = all[5] != "*" && all[5] != "?"
    }

    /// The first time after `date` (strictly) that the expression names, read on the wall clock
    /// of `timeZone`; `nil` when none comes within five years (e.g. 30 February).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var candidate = Date(timeIntervalSince1970: (date.timeIntervalSince1970 + 1).rounded(.down))
        let limit = date.addingTimeInterval(5 * 366 * 86_400)
        while candidate < limit {
            let parts = calendar.dateComponents(
                [.year, .month, .day, .hour, .minute, .second, .weekday], from: candidate)
            guard let month = parts.month, let day = parts.day, let hour = parts.hour, let minute = parts.minute,
                let second = parts.second, let weekday = parts.weekday
            else { return nil }
            if !months.contains(month) {
                guard let start = calendar.date(from: DateComponents(year: parts.year, month: month, day: 1)),
                    let next = calendar.date(byAdding: .month, value: 1, to: start)
                else { return nil }
                candidate = next
            } else if !dayMatches(day: day, weekday: weekday - 1) {
                guard let next = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: candidate))
                else { return nil }
                candidate = next
            } else if !hours.contains(hour) {
                candidate = candidate.addingTimeInterval(Double(3600 - minute * 60 - second))
            } else if !minutes.contains(minute) {
                candidate = candidate.addingTimeInterval(Double(60 - second))
            } else if !seconds.contains(second) {
                candidate = candidate.addingTimeInterval(1)
            } else {
                return candidate
            }
        }
        return nil
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
        case (true, false): daysOfMonth.contains(day)
        case (false, true): daysOfWeek.contains(weekday)
        case (false, false): true
        }
    }

    private static let monthNames = [
        "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10,
        "NOV": 11, "DEC": 12,
    ]
    private static let dayNames = ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]

    /// The values one field names.
    private static func field(
        _ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String: Int] = [:]
    ) throws(Invalid) -> Set<Int> {
        var values: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1, parsed <= range.upperBound else {
                    throw Invalid(
                        description:
                            "\(name) field '\(text.prefix(40))': step '\(pieces[1])' is not 1 to \(range.upperBound)")
                }
                step = parsed
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" || pieces[0] == "?" {
                span = range
            } else {
                let bounds = pieces[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                guard let low = value(bounds[0], names), let high = bounds.count == 2 ? value(bounds[1], names) : low,
                    range.contains(low), range.contains(high), low <= high
                else {
                    throw Invalid(
                        description:
                            "\(name) field '\(text.prefix(40))': '\(pieces[0])' is not a value or range in \(range.lowerBound)-\(range.upperBound)"
                    )
                }
                span = low...(pieces.count == 2 && bounds.count == 1 ? range.upperBound : high)
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return values
    }

    private static func value(_ text: Substring, _ names: [String: Int]) -> Int? {
        Int(text) ?? names[text.uppercased()]
    }
}
