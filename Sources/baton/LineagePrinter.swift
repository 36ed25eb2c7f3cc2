import BatonCore
import BatonStore
import Foundation

/// Renders lineage closures as indented trees and provenance as text.
enum LineagePrinter {
    /// The closure as a tree from each root: upstream `artifact <- attempt <- input artifact ...`,
    /// downstream `artifact -> attempt -> output artifact ...`. An artifact or attempt reached a
    /// second time is printed as a reference, not expanded again.
    static func tree(_ graph: LineageGraph) -> String {
        let artifacts = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.artifact.id, $0.artifact) })
        let upstream = graph.direction == .upstream
        // Upstream an artifact's children are its producers; downstream, its readers.
        var next: [Int64: [LineageStep]] = [:]
        for step in graph.steps {
            for port in upstream ? step.outputs : step.inputs { next[port.artifactId, default: []].append(step) }
        }
        let arrow = upstream ? "<-" : "->"
        var lines: [String] = []
        var shownArtifacts: Set<Int64> = []
        var shownSteps: Set<String> = []

        func show(_ id: Int64, port: String?, indent: String) {
            guard let artifact = artifacts[id] else { return }
            let prefix = indent.isEmpty ? "" : "\(indent)\(arrow) " + (port.map { "\($0): " } ?? "")
            guard shownArtifacts.insert(id).inserted else {
                lines.append("\(prefix)\(artifact.uri)  (see above)")
                return
            }
            lines.append(prefix + describe(artifact))
            for step in next[id] ?? [] {
                let stepIndent = indent + "   "
                guard shownSteps.insert(step.attemptId).inserted else {
                    lines.append("\(stepIndent)\(arrow) \(step.stage) #\(step.attempt)  (see above)")
                    continue
                }
                lines.append("\(stepIndent)\(arrow) \(describe(step))")
                for child in upstream ? step.inputs : step.outputs {
                    show(child.artifactId, port: child.name, indent: stepIndent + "   ")
                }
            }
        }

        for root in graph.roots { show(root, port: nil, indent: "") }
        if graph.roots.isEmpty { lines.append("(no artifacts)") }
        lines.append("")
        lines.append(
            "\(graph.nodes.count) artifacts, \(graph.steps.count) attempts \(graph.direction.rawValue) "
                + "(depth <= \(graph.bounds.maxDepth), <= \(graph.bounds.maxNodes) artifacts per root)")
        return lines.joined(separator: "\n")
    }

    /// A model's provenance: datasets, then every attempt with its code, params and metrics.
    static func provenance(_ document: ArtifactProvenance) -> String {
        var lines = [describe(document.artifact), "", "datasets:"]
        for dataset in document.datasets {
            lines.append("  \(dataset.uri)  md5 \(dataset.md5 ?? "-")  \(dataset.kind)")
        }
        lines.append("")
        lines.append("attempts (nearest first):")
        for attempt in document.attempts {
            var line =
                "  \(attempt.stage) #\(attempt.attempt)  run \(attempt.runId.prefix(8))  \(attempt.pipeline)"
                + "  code \(attempt.codeDigest ?? "-")  \(format(attempt.gpuSeconds)) GPU-s"
            if !attempt.reusedBy.isEmpty { line += "  (reused by \(attempt.reusedBy.count) cache hits)" }
            lines.append(line)
            if !attempt.params.isEmpty {
                let params = attempt.params.keys.sorted().map { "\($0)=\(attempt.params[$0]!.plainText)" }
                lines.append("      params  " + params.joined(separator: " "))
            }
            if !attempt.metrics.isEmpty {
                let metrics = attempt.metrics.keys.sorted().map { "\($0)=\(format(attempt.metrics[$0]!))" }
                lines.append("      metrics " + metrics.joined(separator: " "))
            }
        }
        lines.append("")
        lines.append("GPU-seconds: \(format(document.gpuSeconds))")
        return lines.joined(separator: "\n")
    }

    private static func describe(_ artifact: ArtifactView) -> String {
        var text = "\(artifact.uri)  md5 \(artifact.md5 ?? "-")  \(artifact.kind)"
        if let size = artifact.size { text += "  \(size) bytes" }
        if let files = artifact.nfiles { text += "  \(files) files" }
        return text
    }

    private static func describe(_ step: LineageStep) -> String {
        var text =
            "\(step.stage) #\(step.attempt)  run \(step.runId.prefix(8))  \(step.pipeline)  \(step.state.rawValue)"
        if let digest = step.codeDigest { text += "  code \(digest.prefix(19))" }
        if let original = step.cachedFrom { text += "  (cache hit of \(original.prefix(8)))" }
        return text
    }

    private static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4g", value)
    }
}
