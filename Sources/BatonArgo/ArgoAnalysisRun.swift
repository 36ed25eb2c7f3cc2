import Foundation

/// The parts of an Argo `AnalysisRun` that Baton reads: each metric's condition and its
/// measurements.
struct ArgoAnalysisRun: Decodable, Sendable {
    struct Spec: Decodable, Sendable {
        struct Metric: Decodable, Sendable {
            var name: String
            var successCondition: String?
            var failureCondition: String?
        }
        var metrics: [Metric]?
    }

    struct Status: Decodable, Sendable {
        struct MetricResult: Decodable, Sendable {
            struct Measurement: Decodable, Sendable {
                var phase: String?
                /// What the provider returned, e.g. `0.98` or `[0.98]` from Prometheus.
                var value: String?
                var message: String?
            }
            var name: String
            var phase: String?
            var message: String?
            var measurements: [Measurement]?
        }
        var phase: String?
        var message: String?
        var metricResults: [MetricResult]?
    }

    var spec: Spec?
    var status: Status?

    /// The latest numeric measurement of each metric, e.g. `["success-rate": 0.91]`.
    var measurements: [String: Double] {
        var values: [String: Double] = [:]
        for result in status?.metricResults ?? [] {
            let latest = result.measurements?.reversed().lazy.compactMap { Self.number($0.value) }.first
            if let latest { values[result.name] = latest }
        }
        return values
    }

    /// Each failed (or errored) metric with its latest value and condition, e.g.
    /// `success-rate = 0.91 (success: result[0] >= 0.99): Metric "success-rate" assessed Failed ...`.
    var failures: [String] {
        (status?.metricResults ?? []).filter { ["Failed", "Error", "Inconclusive"].contains($0.phase) }.map { result in
            let latest = result.measurements?.last
            var text = result.name
            if let value = latest?.value { text += " = \(value)" }
            let metric = spec?.metrics?.first { $0.name == result.name }
            let conditions = [
                metric?.successCondition.map { "success: \($0)" }, metric?.failureCondition.map { "failure: \($0)" },
            ].compactMap(\.self)
            if !conditions.isEmpty { text += " (\(conditions.joined(separator: "; ")))" }
            if let message = result.message ?? latest?.message { text += ": \(message)" }
            return text
        }
    }

    /// A measurement's value as a number: `0.98`, `[0.98]` or `[0.98,0.97]` (the first).
    static func number(_ value: String?) -> Double? {
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespaces).trimmingCharacters(
            in: CharacterSet(charactersIn: "[]"))
        return trimmed.split(separator: ",").first.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }
}
