import Yams

extension SpecReader {
    // MARK: - The body of a `rollout` stage

    /// `rollout:` of each `rollout` stage (target, steps, analysis templates and the templates
    /// steps name; see ``RolloutSpec``) and the upstream `register` stage its candidate comes from;
    /// and no `rollout:` on another kind.
    mutating func readRolloutBodies(_ drafts: inout [StageDraft], graph: StageGraph) {
        let registers = Set(drafts.filter { $0.kind == .register }.map(\.name))
        for index in drafts.indices {
            let draft = drafts[index]
            let configNode = draft.node.mapping?["rollout"] ?? draft.node
            let path = "stage \(draft.name).rollout"
            guard isOwnKind(draft, .rollout, node: configNode, path: path) else { continue }
            switch RolloutSpec.read(draft.settings["rollout"]) {
            case .failure(let problems):
                for problem in problems.issues {
                    let stepNode = problem.step.flatMap { configNode.mapping?["steps"]?.sequence?[$0] }
                    issue(
                        stepNode ?? configNode, problem.field.isEmpty ? path : "\(path).\(problem.field)",
                        problem.message)
                }
            case .success(let rollout):
                drafts[index].body = .rollout(rollout)
            }
            let upstreamRegisters = graph.upstream(of: draft.name).intersection(registers).count
            if upstreamRegisters != 1 {
                issue(
                    draft.node, path,
                    "needs exactly one upstream 'register' stage (its version is the candidate); found \(upstreamRegisters)"
                )
            }
        }
    }
}
