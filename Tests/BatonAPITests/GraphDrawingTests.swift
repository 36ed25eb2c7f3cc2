import Foundation
import Testing

@testable import BatonAPI

/// The console's drawings: layout by longest path, escaped text, charts.
@Suite("Console drawings")
struct GraphDrawingTests {
    @Test("Nodes sit in columns by their longest path from a root; labels and ids are escaped")
    func layout() {
        let drawing = GraphDrawing(
            nodes: [
                .init(id: "a", lines: ["a"], classes: ["succeeded"], link: nil),
                .init(id: "b", lines: ["<script>alert(1)</script>"], classes: ["running"], link: nil),
                .init(id: "c", lines: ["c & \"d\""], classes: ["pending"], link: "/ui/runs/x?y=1&z=2"),
            ],
            edges: [("a", "b"), ("b", "c"), ("a", "c")])
        let svg = drawing.svg(id: "dag")
        #expect(!svg.contains("<script>"))
        #expect(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(svg.contains("c &amp; &quot;d&quot;"))
        #expect(svg.contains("href=\"/ui/runs/x?y=1&amp;z=2\""))
        // a in column 0, b in 1, c in 2 (the longest path a → b → c, not the edge a → c).
        let step = GraphDrawing.width + GraphDrawing.columnGap
        #expect(svg.contains("id=\"node-a\" data-node=\"a\" transform=\"translate(10,10)\""))
        #expect(svg.contains("id=\"node-b\" data-node=\"b\" transform=\"translate(\(10 + step),10)\""))
        #expect(svg.contains("id=\"node-c\" data-node=\"c\" transform=\"translate(\(10 + 2 * step),10)\""))
        #expect(svg.components(separatedBy: "class=\"edge\"").count == 4)
    }

    @Test("A cycle is drawn without looping; an edge to an unknown node is left out")
    func cycle() {
        let drawing = GraphDrawing(
            nodes: [
                .init(id: "a", lines: ["a"], classes: [], link: nil),
                .init(id: "b", lines: ["b"], classes: [], link: nil),
            ],
            edges: [("a", "b"), ("b", "a"), ("a", "ghost")])
        let svg = drawing.svg(id: "g")
        #expect(svg.components(separatedBy: "class=\"edge\"").count == 3)
    }

    @Test("A chart draws one polyline per series within its box; no points, no chart")
    func chart() {
        let chart = LineChart(series: [.init(name: "loss", points: [(0, 3), (1, 1.5), (2, 1)])])
        let svg = chart.svg(title: "loss by step")
        #expect(svg.components(separatedBy: "<polyline").count == 2)
        #expect(svg.contains("loss by step"))
        #expect(LineChart(series: [.init(name: "none", points: [])]).svg(title: "x").isEmpty)
    }
}
