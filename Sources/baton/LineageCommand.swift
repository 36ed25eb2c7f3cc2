import ArgumentParser
import BatonCommandLine
import BatonStore
import Foundation
import Logging

struct LineageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract:
            "Print what an artifact or a run's final outputs were made from (or, with --down, what was made from them).",
        discussion: """
            TARGET is an artifact URI (its newest content) or a run id (its final outputs: what its \
            succeeded attempts produced that no attempt of the run read). The tree reads \
            `artifact <- stage attempt <- input artifacts ...`; an artifact reached twice is printed once. \
            The same data as SQL: docs/lineage.md.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "An artifact URI or a run id.") var target: String
    @Flag(help: "Walk downstream: what was made from the target.") var down = false
    @Option(help: "The most stage hops from the target (0-1000).") var depth = 20
    @Option(help: "The most artifacts per root (1-1000000).") var maxNodes = 10_000
    @Flag(help: "Print the full provenance (datasets, attempts, params, metrics, GPU-seconds) instead of the tree.")
    var provenance = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard LineageBounds(maxDepth: depth, maxNodes: maxNodes) != nil else {
            throw ValidationError("--depth must be 0-1000 and --max-nodes 1-1000000")
        }
        if provenance && down { throw ValidationError("--provenance walks upstream; drop --down") }
    }

    /// What the command prints.
    enum Report: Sendable {
        case graph(LineageGraph)
        case provenance([ArtifactProvenance])
    }

    func run() async throws {
        options.bootstrapLogging()
        let bounds = LineageBounds(maxDepth: depth, maxNodes: maxNodes)!
        let direction: LineageDirection = down ? .downstream : .upstream
        let (target, wantsProvenance) = (self.target, provenance)
        let report = try await Runtime.withStore(options, logger: Logger(label: "baton.lineage")) { store -> Report? in
            let roots: [ArtifactView]
            if let runID = UUID(uuidString: target) {
                roots = try await store.lineage.finalOutputs(ofRun: runID)
            } else if let artifact = try await store.lineage.artifact(uri: target) {
                roots = [artifact]
            } else {
                return nil
            }
            guard wantsProvenance else {
                return .graph(
                    try await store.lineage.lineage(of: roots.map(\.id), direction: direction, bounds: bounds))
            }
            var documents: [ArtifactProvenance] = []
            for root in roots {
                if let document = try await store.lineage.provenance(of: root.id, bounds: bounds) {
                    documents.append(document)
                }
            }
            return .provenance(documents)
        }
        switch report {
        case nil:
            print("no artifact recorded at \(target.prefix(200))")
            throw ExitCode(1)
        case .graph(let graph)?:
            print(json ? try JSONOutput.render(graph) : LineagePrinter.tree(graph))
        case .provenance(let documents)?:
            print(
                json
                    ? try JSONOutput.render(documents)
                    : documents.map(LineagePrinter.provenance).joined(separator: "\n\n"))
        }
    }
}
