import BatonCore

/// The figures a benchmark reports for a set of samples.
enum Percentiles {
    /// `count`, `p50`, `p95`, `p99` (nearest rank) and `max`, rounded to 4 decimals; `null` for no samples.
    static func summary(_ values: [Double]) -> JSONValue {
        guard !values.isEmpty else { return .null }
        let sorted = values.sorted()
        return .object([
            "count": .int(Int64(values.count)), "p50": .double(rounded(rank(0.5, sorted))),
            "p95": .double(rounded(rank(0.95, sorted))), "p99": .double(rounded(rank(0.99, sorted))),
            "max": .double(rounded(sorted[sorted.count - 1])),
        ])
    }

    /// The 95th percentile (nearest rank); infinity for no samples.
    static func p95(_ values: [Double]) -> Double {
        values.isEmpty ? .infinity : rank(0.95, values.sorted())
    }

    private static func rank(_ quantile: Double, _ sorted: [Double]) -> Double {
        sorted[max(0, min(sorted.count - 1, Int((quantile * Double(sorted.count)).rounded(.up)) - 1))]
    }

    private static func rounded(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }
}
