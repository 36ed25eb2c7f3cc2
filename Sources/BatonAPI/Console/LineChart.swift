import Foundation

/// A small SVG line chart (a loss curve, a rollout's traffic weight): one or more series over a
/// shared x axis, with the first and last values labelled.
struct LineChart {
    /// One line: a name and its points (x, y).
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    var series: [Series]
    var width = 360
    var height = 140
    /// The y range to show; the data's own when nil.
    var yRange: ClosedRange<Double>?

    func svg(title: String) -> String {
        let all = series.flatMap(\.points)
        guard let first = all.first else { return "" }
        let xs = all.map(\.x)
        let ys = all.map(\.y)
        let xMin = xs.min() ?? first.x
        let xMax = max(xs.max() ?? first.x, xMin + 1e-9)
        let yMin = yRange?.lowerBound ?? (ys.min() ?? 0)
        let yMax = max(yRange?.upperBound ?? (ys.max() ?? 1), yMin + 1e-9)
        let left = 44.0
        let top = 18.0
        let plotWidth = Double(width) - left - 10
        let plotHeight = Double(height) - top - 20
        func point(_ p: (x: Double, y: Double)) -> String {
            let x = left + (p.x - xMin) / (xMax - xMin) * plotWidth
            let y = top + (1 - (p.y - yMin) / (yMax - yMin)) * plotHeight
            return "\(Self.format(x)),\(Self.format(y))"
        }
        var parts = [
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\">",
            "<text x=\"4\" y=\"12\" class=\"title\">\(GraphDrawing.escape(title))</text>",
            "<text x=\"4\" y=\"\(Int(top) + 8)\" class=\"axis\">\(Self.label(yMax))</text>",
            "<text x=\"4\" y=\"\(Int(top + plotHeight))\" class=\"axis\">\(Self.label(yMin))</text>",
            "<line class=\"frame\" x1=\"\(Int(left))\" y1=\"\(Int(top + plotHeight))\" x2=\"\(width - 10)\" y2=\"\(Int(top + plotHeight))\"/>",
        ]
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            parts.append(
                "<polyline class=\"series series\(index % 4)\" points=\"\(line.points.map(point).joined(separator: " "))\">"
                    + "<title>\(GraphDrawing.escape(line.name))</title></polyline>")
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func label(_ value: Double) -> String {
        abs(value) >= 100 || value == value.rounded() ? String(Int(value.rounded())) : String(format: "%.3g", value)
    }
}
