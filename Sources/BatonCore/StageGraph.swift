/// The dependency graph of a pipeline's stages.
public struct StageGraph: Sendable, Hashable {
    /// Stage names in a topological order (every stage after the stages it needs).
    public let order: [String]
    /// For each stage, the stages it needs.
    public let needs: [String: [String]]
    /// For each stage, the stages that need it.
    public let dependents: [String: [String]]

    /// Builds the graph.
    ///
    /// - Parameter needs: each stage's dependencies, in file order.
    /// - Throws: `StageGraph.CycleError` naming the stages of one cycle.
    public init(stages: [(name: String, needs: [String])]) throws(CycleError) {
        var needs: [String: [String]] = [:]
        var dependents: [String: [String]] = [:]
        for stage in stages {
            needs[stage.name] = stage.needs
            dependents[stage.name, default: []] += []
            for dependency in stage.needs { dependents[dependency, default: []].append(stage.name) }
        }
        // Kahn's algorithm, taking ready stages in file order so the order is stable.
        var remaining = needs.mapValues { Set($0) }
        var order: [String] = []
        while order.count < stages.count {
            guard let next = stages.first(where: { remaining[$0.name]?.isEmpty == true }) else {
                throw CycleError(cycle: Self.findCycle(in: remaining))
            }
            order.append(next.name)
            remaining[next.name] = nil
            for dependent in dependents[next.name] ?? [] { remaining[dependent]?.remove(next.name) }
        }
        self.order = order
        self.needs = needs
        self.dependents = dependents
    }

    /// Stages that need nothing.
    public var roots: [String] { order.filter { needs[$0]?.isEmpty ?? true } }

    /// Every stage `name` needs, directly or not.
    public func upstream(of name: String) -> Set<String> { closure(from: name, along: needs) }

    /// Every stage that needs `name`, directly or not.
    public func downstream(of name: String) -> Set<String> { closure(from: name, along: dependents) }

    private func closure(from name: String, along edges: [String: [String]]) -> Set<String> {
        var seen: Set<String> = []
        var queue = edges[name] ?? []
        while let next = queue.popLast() {
            guard seen.insert(next).inserted else { continue }
            queue += edges[next] ?? []
        }
        return seen
    }

    /// A cycle among the stages, named in the error.
    public struct CycleError: Error, Sendable, Hashable {
        /// The stages of one cycle, each needing the next, first stage repeated at the end (`a -> b -> a`).
        public let cycle: [String]
    }

    private static func findCycle(in remaining: [String: Set<String>]) -> [String] {
        // Every stage left has an unfinished dependency; walking dependencies must revisit one.
        guard var current = remaining.keys.sorted().first else { return [] }
        var path: [String] = []
        while !path.contains(current) {
            path.append(current)
            current = remaining[current]!.sorted().first!
        }
        let start = path.firstIndex(of: current)!
        return Array(path[start...]) + [current]
    }
}
