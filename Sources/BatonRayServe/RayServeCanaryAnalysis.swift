import BatonCore
import BatonHTTPClient
import BatonRay
import Foundation
import Logging
import NIOHTTP1

/// Runs an ``AnalysisTemplate`` against Prometheus' HTTP API (`GET /api/v1/query`), as Argo
/// Rollouts' AnalysisRuns do: `count` measurements, one every `interval` (the first one interval
/// after the step starts, so rate windows see the new weights); each measurement queries every
/// metric and fails when a condition does not hold; the analysis fails as soon as more than
/// `failureLimit` measurements failed. A measurement with a metric that has no data or a
/// Prometheus error is an error: not counted, taken again, and the analysis fails after more than
/// `consecutiveErrorLimit` errors in a row.
struct RayServeCanaryAnalysis: Sendable {
    /// What an analysis found.
    struct Outcome: Sendable, Hashable {
        var passed: Bool
        /// The last value of each metric.
        var measurements: [String: Double]
        /// For a failed analysis: the failing metric, value and condition.
        var message: String?
        /// How long each Prometheus query took, for the figures.
        var queryDurations: [Duration]
    }

    /// Prometheus' HTTP API.
    let prometheus: JSONHTTPClient
    let logger: Logger

    func run(
        _ template: AnalysisTemplate, model: String, candidate: Int, stable: Int?
    ) async throws -> Outcome {
        var taken = 0
        var failures = 0
        var errorsInARow = 0
        var measurements: [String: Double] = [:]
        var durations: [Duration] = []
        while taken < template.count {
            try await Task.sleep(for: template.interval)
            var errors: [String] = []
            var problems: [String] = []
            for metric in template.metrics {
                let query = AnalysisTemplate.render(
                    metric.query, model: model, candidateVersion: candidate, stableVersion: stable)
                let started = ContinuousClock.now
                let value: Double?
                do {
                    value = try await self.value(of: query)
                } catch {
                    errors.append("\(metric.name): \(error.reason)")
                    continue
                }
                durations.append(ContinuousClock.now - started)
                guard let value else {
                    errors.append("\(metric.name): no data (\(metric.condition))")
                    continue
                }
                measurements[metric.name] = value
                if !metric.condition.holds(for: value) {
                    problems.append(
                        "\(metric.name) = \(value.formatted(.number.grouping(.never))) fails \(metric.condition)")
                }
            }
            logger.info(
                "analysis measurement",
                metadata: [
                    LogKeys.template: "\(template.name)", LogKeys.values: "\(measurements)",
                    LogKeys.errors: "\(errors)",
                    LogKeys.problems: "\(problems)",
                ])
            if !errors.isEmpty {
                errorsInARow += 1
                guard errorsInARow <= template.consecutiveErrorLimit else {
                    return Outcome(
                        passed: false, measurements: measurements,
                        message: errors.joined(separator: "; ")
                            + " (\(errorsInARow) errors in a row; consecutiveErrorLimit "
                            + "\(template.consecutiveErrorLimit))",
                        queryDurations: durations)
                }
                continue
            }
            errorsInARow = 0
            taken += 1
            guard !problems.isEmpty else { continue }
            failures += 1
            if failures > template.failureLimit {
                return Outcome(
                    passed: false, measurements: measurements,
                    message: problems.joined(separator: "; ")
                        + " (\(failures) of \(taken) measurements failed; failureLimit \(template.failureLimit))",
                    queryDurations: durations)
            }
        }
        return Outcome(passed: true, measurements: measurements, message: nil, queryDurations: durations)
    }

    /// The first number a query returns (a vector's first sample or a scalar); `nil` when it
    /// returns nothing or NaN.
    func value(of query: String) async throws(RayServeCanaryError) -> Double? {
        // The query string escapes `+`, which PromQL uses as addition (not a space).
        let answer: JSONHTTPClient.Answer
        do {
            answer = try await prometheus.send(.GET, "/api/v1/query", query: ["query": query], expect: nil)
        } catch {
            throw .unavailable(error.reason)
        }
        let status = answer.status
        guard case .object(let root)? = try? JSONDecoder().decode(JSONValue.self, from: Data(answer.body)) else {
            throw .badResponse("Prometheus answered HTTP \(status) with no JSON")
        }
        guard status == 200, root["status"] == .string("success"), case .object(let data)? = root["data"] else {
            let error = root["error"].map { "\($0)" } ?? "HTTP \(status)"
            throw .badResponse("Prometheus refused the query: \(error)")
        }
        let sample: JSONValue?
        switch data["result"] {
        case .array(let results) where data["resultType"] == .string("scalar"):
            sample = .array(results)
        case .array(let results):
            if case .object(let first)? = results.first { sample = first["value"] } else { sample = nil }
        default:
            sample = nil
        }
        guard case .array(let pair)? = sample, pair.count == 2, case .string(let text) = pair[1],
            let value = Double(text), !value.isNaN
        else { return nil }
        return value
    }
}
