import Yams

extension SpecReader {
    // MARK: - The body of a `gate` stage

    /// `gate:` of each `gate` stage: the condition's syntax, references (declared params,
    /// upstream metrics, the champion), types and champion guards, and the model it compares with.
    mutating func readGateBodies(_ drafts: inout [StageDraft], graph: StageGraph, params: [String: ParamSpec]) {
        let names = Set(drafts.map(\.name))
        // The model each register stage names as written, so that a problem in another field of
        // its `register:` does not add a second one here.
        var registered: [String: String] = [:]
        for draft in drafts where draft.kind == .register {
            if case .object(let register)? = draft.settings["register"], case .string(let model)? = register["model"] {
                registered[draft.name] = model
            }
        }
        for index in drafts.indices where drafts[index].kind == .gate {
            let draft = drafts[index]
            let configNode = draft.node.mapping?["gate"]
            let path = "stage \(draft.name).gate"
            let problems: [GateSpec.Issue]
            switch GateSpec.read(draft.settings["gate"]) {
            case .failure(let failure):
                problems = failure.issues
            case .success(let gate):
                let model = GateSpec.championModel(
                    named: gate.model,
                    registeredDownstream: graph.downstream(of: draft.name).compactMap { registered[$0] })
                problems = gate.problems(
                    params: params, stages: names, upstream: graph.upstream(of: draft.name), championModel: model)
                if problems.isEmpty { drafts[index].body = .gate(gate) }
            }
            for problem in problems {
                let fieldNode = configNode?.mapping?[problem.field] ?? configNode ?? draft.node
                issue(fieldNode, problem.field.isEmpty ? path : "\(path).\(problem.field)", problem.message)
            }
        }
    }
}
