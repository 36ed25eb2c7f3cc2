import BatonCore
import Foundation
import Prometheus
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The process's CPU time and memory as Prometheus reads them (``MetricCatalog/processCPU``,
/// ``MetricCatalog/processMemory``, ``MetricCatalog/processPeakMemory``), read from the kernel
/// each time `/metrics` is scraped: `getrusage` for CPU time, `/proc/self/status` for the
/// resident set now (`VmRSS`) and its peak (`VmHWM`), both from the same counters.
final class ProcessMetrics: Sendable {
    private let cpu: Counter
    private let memory: Gauge
    private let peakMemory: Gauge
    /// The CPU seconds already added to the counter.
    private let counted = Mutex(0.0)

    init(registry: PrometheusCollectorRegistry) {
        cpu = registry.makeCounter(name: MetricCatalog.processCPU.name, help: MetricCatalog.processCPU.help)
        memory = registry.makeGauge(name: MetricCatalog.processMemory.name, help: MetricCatalog.processMemory.help)
        peakMemory = registry.makeGauge(
            name: MetricCatalog.processPeakMemory.name, help: MetricCatalog.processPeakMemory.help)
    }

    /// Reads the kernel's figures into the metrics.
    func update() {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        let total = seconds(usage.ru_utime) + seconds(usage.ru_stime)
        let delta = counted.withLock { counted in
            defer { counted = max(counted, total) }
            return total - counted
        }
        if delta > 0 { cpu.increment(by: delta) }
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return }
        for line in status.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kilobytes = Double(fields[1]) else { continue }
            switch fields[0] {
            case "VmRSS:": memory.set(kilobytes * 1024)
            case "VmHWM:": peakMemory.set(kilobytes * 1024)
            default: continue
            }
        }
    }
}
