import ArgumentParser
import BatonCommandLine
import BatonCore

/// `baton metrics`: every metric `baton serve` exports at `/metrics`, with its kind, labels and
/// meaning, so dashboards and alert rules can be checked against the binary.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "List the metrics `baton serve` exports at /metrics.")

    @Flag(help: "Print JSON: [{name, kind, help, labels, buckets}].") var json = false

    func run() throws {
        if json { return print(try JSONOutput.render(MetricCatalog.all)) }
        for metric in MetricCatalog.all {
            let labels = metric.labels.isEmpty ? "" : "{\(metric.labels.joined(separator: ","))}"
            print("\(metric.name)\(labels)\t\(metric.kind.rawValue)\t\(metric.help)")
        }
    }
}
