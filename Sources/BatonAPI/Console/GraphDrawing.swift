/// Draws a directed acyclic graph as SVG: nodes in columns by their longest path from a root,
/// edges as curves from a node's right side to its successor's left side. Text is escaped; the
/// result is embedded as it is in the console's pages.
struct GraphDrawing {
    /// One node: an id unique in the graph, its label lines, and CSS classes (e.g. its state).
    struct Node {
        var id: String
        var lines: [String]
        var classes: [String]
        var link: String?
    }

    var nodes: [Node]
    /// Edges as (from id, to id).
    var edges: [(String, String)]

    static let width = 170
    static let height = 54
    static let columnGap = 60
    static let rowGap = 22

    /// The SVG element, sized to the graph.
    func svg(id: String) -> String {
        let columns = columnsByLongestPath()
        var rows: [Int: Int] = [:]
        var positions: [String: (x: Int, y: Int)] = [:]
        for node in nodes {
            let column = columns[node.id] ?? 0
            let row = rows[column, default: 0]
            rows[column] = row + 1
            positions[node.id] = (
                10 + column * (Self.width + Self.columnGap), 10 + row * (Self.height + Self.rowGap)
            )
        }
        let totalWidth = 20 + ((columns.values.max() ?? 0) + 1) * (Self.width + Self.columnGap) - Self.columnGap
        let totalHeight = 20 + (rows.values.max() ?? 1) * (Self.height + Self.rowGap) - Self.rowGap
        var parts = [
            "<svg id=\"\(Self.escape(id))\" class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" "
                + "width=\"\(totalWidth)\" height=\"\(totalHeight)\" viewBox=\"0 0 \(totalWidth) \(totalHeight)\">"
        ]
        for (from, to) in edges {
            guard let start = positions[from], let end = positions[to] else { continue }
            let x1 = start.x + Self.width
            let y1 = start.y + Self.height / 2
            let x2 = end.x
            let y2 = end.y + Self.height / 2
            let middle = (x1 + x2) / 2
            parts.append(
                "<path class=\"edge\" d=\"M\(x1),\(y1) C\(middle),\(y1) \(middle),\(y2) \(x2),\(y2)\"/>")
        }
        for node in nodes {
            guard let position = positions[node.id] else { continue }
            var group =
                "<g class=\"node \(node.classes.map(Self.escape).joined(separator: " "))\" id=\"node-\(Self.escape(node.id))\" "
                + "data-node=\"\(Self.escape(node.id))\" transform=\"translate(\(position.x),\(position.y))\">"
                + "<rect width=\"\(Self.width)\" height=\"\(Self.height)\" rx=\"6\"/>"
            for (index, line) in node.lines.prefix(3).enumerated() {
                let text = line.count > 26 ? String(line.prefix(25)) + "…" : line
                group +=
                    "<text x=\"10\" y=\"\(18 + index * 16)\" class=\"line\(index)\">\(Self.escape(text))</text>"
            }
            group += "</g>"
            if let link = node.link { group = "<a href=\"\(Self.escape(link))\">\(group)</a>" }
            parts.append(group)
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    /// Each node's column: the length of the longest path to it from a node without predecessors.
    private func columnsByLongestPath() -> [String: Int] {
        var predecessors: [String: [String]] = [:]
        for (from, to) in edges { predecessors[to, default: []].append(from) }
        var columns: [String: Int] = [:]
        var visiting: Set<String> = []
        func column(_ id: String) -> Int {
            if let known = columns[id] { return known }
            guard visiting.insert(id).inserted else { return 0 }  // a cycle: drawn, not followed
            let value = (predecessors[id] ?? []).map { column($0) + 1 }.max() ?? 0
            columns[id] = value
            return value
        }
        for node in nodes { _ = column(node.id) }
        return columns
    }

    /// Text safe inside SVG and HTML elements and attribute values.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
