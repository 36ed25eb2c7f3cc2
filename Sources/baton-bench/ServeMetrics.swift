import BatonCore
import BatonHTTPClient
import Foundation
import Logging
import NIOHTTP1

/// What `baton bench` reads from the `/metrics` of each `baton serve` before and after a phase:
/// the hand-off steps (``HandoffHop``), each consumer's handling, and the process's CPU time and
/// memory. Two snapshots subtract to the phase's own figures.
struct ServeMetrics: Sendable {
    /// A Prometheus histogram: cumulative counts by upper bound, and the sum and count.
    struct Histogram: Sendable {
        var buckets: [Double: Double] = [:]
        var sum = 0.0
        var count = 0.0

        /// This histogram's observations since `earlier`.
        func since(_ earlier: Histogram?) -> Histogram {
            guard let earlier else { return self }
            var result = Histogram(sum: sum - earlier.sum, count: count - earlier.count)
            for (bound, total) in buckets { result.buckets[bound] = total - (earlier.buckets[bound] ?? 0) }
            return result
        }

        /// The quantile, interpolated linearly within its bucket as Prometheus'
        /// `histogram_quantile` does; `nil` for no observations.
        func quantile(_ q: Double) -> Double? {
            guard count > 0 else { return nil }
            let rank = q * count
            var lower = 0.0
            var below = 0.0
            for bound in buckets.keys.sorted() {
                let total = buckets[bound] ?? 0
                if total >= rank {
                    guard bound.isFinite else { return lower }
                    let inBucket = total - below
                    return inBucket > 0 ? lower + (bound - lower) * (rank - below) / inBucket : bound
                }
                (lower, below) = (bound, total)
            }
            return lower
        }

        /// `{count, mean_ms, p50_ms, p99_ms}`.
        var summary: JSONValue {
            guard count > 0 else { return .null }
            func ms(_ seconds: Double?) -> JSONValue {
                seconds.map { .double(($0 * 10_000_000).rounded() / 10_000) } ?? .null
            }
            return .object([
                "count": .int(Int64(count)), "mean_ms": ms(sum / count), "p50_ms": ms(quantile(0.5)),
                "p99_ms": ms(quantile(0.99)),
            ])
        }
    }

    /// Hand-off steps by `consumer/hop`, and handling by `consumer/handling`.
    var steps: [String: Histogram] = [:]
    /// CPU seconds of all the processes read.
    var cpuSeconds = 0.0
    /// Resident memory now, summed, and the largest peak of one process, in bytes.
    var residentBytes = 0.0
    var peakResidentBytes = 0.0

    /// Reads and adds up the `/metrics` of every address (`host:port` or a URL).
    static func read(_ addresses: [String], logger: Logger) async throws -> ServeMetrics {
        var total = ServeMetrics()
        for address in addresses {
            let base = address.contains("://") ? address : "http://\(address)"
            var configuration = JSONHTTPClient.Configuration(service: "baton serve metrics", baseURL: base)
            configuration.requestTimeout = .seconds(10)
            let answer = try await JSONHTTPClient(configuration: configuration, logger: logger).send(
                .GET, "/metrics", accept: "text/plain")
            total.add(String(decoding: answer.body, as: UTF8.self))
        }
        return total
    }

    /// Adds the samples of one Prometheus text exposition.
    mutating func add(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let series = line[..<space]
            let name = String(series.prefix { $0 != "{" })
            let labels = Self.labels(series.dropFirst(name.count))
            switch name {
            case MetricCatalog.processCPU.name: cpuSeconds += value
            case MetricCatalog.processMemory.name: residentBytes += value
            case MetricCatalog.processPeakMemory.name: peakResidentBytes = max(peakResidentBytes, value)
            default: addHistogramSample(name: name, labels: labels, value: value)
            }
        }
    }

    private mutating func addHistogramSample(name: String, labels: [String: String], value: Double) {
        let key: String
        let part: Substring
        if name.hasPrefix(MetricCatalog.handoffHop.name), let consumer = labels["consumer"], let hop = labels["hop"] {
            key = "\(consumer)/\(hop)"
            part = name.dropFirst(MetricCatalog.handoffHop.name.count)
        } else if name.hasPrefix(MetricCatalog.eventHandling.name), let consumer = labels["consumer"] {
            key = "\(consumer)/handling"
            part = name.dropFirst(MetricCatalog.eventHandling.name.count)
        } else {
            return
        }
        switch part {
        case "_sum": steps[key, default: Histogram()].sum += value
        case "_count": steps[key, default: Histogram()].count += value
        case "_bucket":
            guard let bound = labels["le"].flatMap({ $0 == "+Inf" ? Double.infinity : Double($0) }) else { return }
            steps[key, default: Histogram()].buckets[bound, default: 0] += value
        default: return
        }
    }

    /// `{a="x",b="y"}` as a dictionary (label values here never hold quotes or commas).
    private static func labels(_ text: Substring) -> [String: String] {
        guard text.hasPrefix("{"), text.hasSuffix("}") else { return [:] }
        var labels: [String: String] = [:]
        for pair in text.dropFirst().dropLast().split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            labels[String(parts[0])] = String(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        }
        return labels
    }

    /// The phase between `earlier` and this snapshot, as the bench prints it: each step, and CPU
    /// seconds per 1,000 stage transitions.
    func report(since earlier: ServeMetrics, transitions: Int) -> JSONValue {
        var stepFigures: [String: JSONValue] = [:]
        for (key, histogram) in steps {
            let figures = histogram.since(earlier.steps[key]).summary
            if figures != .null { stepFigures[key] = figures }
        }
        let cpu = cpuSeconds - earlier.cpuSeconds
        return .object([
            "steps": .object(stepFigures),
            "serve_cpu_seconds": .double((cpu * 1000).rounded() / 1000),
            "serve_cpu_seconds_per_1000_transitions": transitions > 0
                ? .double((cpu / Double(transitions) * 1_000_000).rounded() / 1000) : .null,
            "serve_rss_mb": .double((residentBytes / 1_048_576 * 10).rounded() / 10),
            "serve_peak_rss_mb": .double((peakResidentBytes / 1_048_576 * 10).rounded() / 10),
        ])
    }
}
