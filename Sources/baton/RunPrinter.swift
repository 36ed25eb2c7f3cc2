import BatonCore
import BatonStore
import Foundation

/// Renders runs for the terminal and as JSON.
enum RunPrinter {
    static func table(_ runs: [RunSummary]) -> String {
        var rows = [["RUN", "PIPELINE", "STATE", "CREATED", "DURATION"]]
        for run in runs {
            rows.append([
                run.runId, run.pipeline + (run.pipelineVersion.map { " v\($0)" } ?? ""), run.state.rawValue,
                run.createdAt.formatted(.iso8601), duration(from: run.createdAt, to: run.finishedAt),
            ])
        }
        return align(rows)
    }

    static func text(_ run: RunView) -> String {
        var lines = [
            "run       \(run.runId)",
            "pipeline  \(run.pipeline)" + (run.pipelineVersion.map { " v\($0)" } ?? " (inline spec)"),
            "state     \(run.state.rawValue)" + (run.reason.map { " — \($0)" } ?? ""),
            "duration  \(duration(from: run.createdAt, to: run.finishedAt))",
            "params    " + run.params.keys.sorted().map { "\($0)=\(run.params[$0]!.plainText)" }.joined(separator: " "),
            "",
        ]
        var rows = [["STAGE", "KIND", "POOL", "STATE", "ATTEMPTS", "DURATION", "NOTE"]]
        for stage in run.stages {
            let note = stage.attemptHistory.last?.error ?? stage.reason ?? ""
            rows.append([
                stage.name, stage.kind.rawValue, stage.pool, stage.state.rawValue, String(stage.attempts),
                stage.durationSeconds.map { String(format: "%.3fs", $0) } ?? "-", String(note.prefix(80)),
            ])
        }
        lines.append(align(rows))
        for stage in run.stages {
            guard let last = stage.attemptHistory.last, !last.outputs.isEmpty || !last.metrics.isEmpty else { continue }
            lines.append("")
            lines.append("\(stage.name) (attempt \(last.attempt)\(last.rayStatus.map { ", Ray \($0)" } ?? ""))")
            for output in last.outputs {
                lines.append(
                    "  output \(output.name)  \(output.uri)  md5 \(output.md5 ?? "-")  \(output.size ?? 0) bytes")
            }
            for key in last.metrics.keys.sorted() {
                lines.append("  metric \(key) = \(last.metrics[key]!)")
            }
        }
        for stage in run.stages {
            for attempt in stage.attemptHistory {
                guard let gate = attempt.gate else { continue }
                lines += gateLines(gate, stage: stage.name, attempt: attempt.attempt)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A gate decision: the condition, the verdict, the failing clause and every value read.
    private static func gateLines(_ gate: GateDecisionView, stage: String, attempt: Int) -> [String] {
        var lines = ["", "\(stage) (gate, attempt \(attempt)): \(gate.passed ? "passed" : "REJECTED")"]
        lines.append("  condition  \(gate.condition)")
        if let clause = gate.failedClause { lines.append("  failed     \(clause)") }
        for key in gate.observed.keys.sorted() {
            let value = gate.observed[key]!
            lines.append("  observed   \(key) = \(value == .null ? "(no value)" : value.description)")
        }
        if let model = gate.model {
            lines.append("  champion   " + (gate.championVersion.map { "\(model) v\($0)" } ?? "\(model) has none yet"))
        }
        return lines
    }

    private static func duration(from start: Date, to end: Date?) -> String {
        let seconds = (end ?? Date()).timeIntervalSince(start)
        return String(format: "%.3fs", seconds) + (end == nil ? " (running)" : "")
    }

    private static func align(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
