/// Parses and prints the human durations used in specs: `500ms`, `30s`, `5m`, `2h`, `1h30m`, `1d`.
public enum DurationParsing {
    /// Parses a duration such as `1h30m`.
    ///
    /// - Returns: `nil` when the text is not a positive sum of `<integer><unit>` terms with
    ///   units `ms`, `s`, `m`, `h`, `d`.
    public static func parse(_ text: String) -> Duration? {
        var total: Duration = .zero
        var digits = ""
        var index = text.startIndex
        var sawTerm = false
        while index < text.endIndex {
            let character = text[index]
            if character.isASCII, character.isNumber {
                digits.append(character)
                index = text.index(after: index)
                continue
            }
            guard let amount = Int64(digits), digits.count <= 12 else { return nil }
            digits = ""
            let rest = text[index...]
            let unit: Duration
            if rest.hasPrefix("ms") {
                unit = .milliseconds(1)
                index = text.index(index, offsetBy: 2)
            } else {
                switch character {
                case "s": unit = .seconds(1)
                case "m": unit = .seconds(60)
                case "h": unit = .seconds(3600)
                case "d": unit = .seconds(86400)
                default: return nil
                }
                index = text.index(after: index)
            }
            total += unit * amount
            sawTerm = true
        }
        guard digits.isEmpty, sawTerm, total > .zero else { return nil }
        return total
    }

    /// Renders a duration in the largest exact units, e.g. `90s` as `1m30s`.
    public static func format(_ duration: Duration) -> String {
        var milliseconds = duration.milliseconds
        if milliseconds == 0 { return "0s" }
        var parts = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            let count = milliseconds / size
            if count > 0 {
                parts += "\(count)\(unit)"
                milliseconds -= count * size
            }
        }
        return parts
    }
}

extension Duration {
    /// The whole number of milliseconds in this duration.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds as a floating-point number.
    public var secondsDouble: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
