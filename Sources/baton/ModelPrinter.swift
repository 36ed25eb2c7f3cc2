import BatonCore
import BatonStore
import Foundation

/// Renders registered models for the terminal (`--json` uses the views' own encoding).
enum ModelPrinter {
    static func list(_ models: [ModelSummary]) -> String {
        guard !models.isEmpty else { return "no registered models" }
        return models.map { model in
            "\(model.name)  latest v\(model.latestVersion)  " + aliases(model.aliases)
        }.joined(separator: "\n")
    }

    static func text(_ model: ModelView) -> String {
        var lines = [
            "model    \(model.name)",
            "aliases  \(aliases(model.aliases))",
            "",
            "versions (newest first):",
        ]
        for version in model.versions {
            let names = version.aliases.isEmpty ? "" : "  [" + version.aliases.joined(separator: ", ") + "]"
            lines.append("  v\(version.version)\(names)  \(version.createdAt.formatted(.iso8601))")
            lines.append("    run       \(version.runId)  stage \(version.stage)  attempt \(version.attemptId)")
            lines.append("    artifact  \(version.artifactUri)  md5 \(version.artifactMd5 ?? "-")")
            for stage in version.metrics.keys.sorted() {
                let metrics = version.metrics[stage]!
                let values = metrics.keys.sorted().map { "\($0)=\(metrics[$0]!)" }.joined(separator: " ")
                lines.append("    metrics   \(stage): \(values)")
            }
        }
        lines.append("")
        lines.append("alias moves (newest first):")
        for event in model.aliasEvents {
            lines.append(
                "  \(event.movedAt.formatted(.iso8601))  \(event.alias): \(version(event.fromVersion)) -> "
                    + "\(version(event.toVersion))  \(event.move.rawValue) by \(event.actor)"
                    + (event.reason.map { " — \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    static func move(_ move: ModelPromoted) -> String {
        "\(move.model): \(move.alias) \(version(move.fromVersion)) -> \(version(move.toVersion)) "
            + "(\(move.move.rawValue) by \(move.actor))"
    }

    private static func aliases(_ aliases: [String: Int]) -> String {
        aliases.isEmpty ? "(no aliases)" : aliases.keys.sorted().map { "\($0)=v\(aliases[$0]!)" }.joined(separator: " ")
    }

    private static func version(_ version: Int?) -> String {
        version.map { "v\($0)" } ?? "none"
    }
}
