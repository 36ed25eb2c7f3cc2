import Yams

extension SpecReader {
    // MARK: - The body of a `register` stage

    /// `register:` of each `register` stage: model, artifact (an upstream stage's declared
    /// output), alias; and no `register:` on another kind.
    mutating func readRegisterBodies(_ drafts: inout [StageDraft], graph: StageGraph) {
        let outputs = Dictionary(uniqueKeysWithValues: drafts.map { ($0.name, $0.stage.outputs) })
        for index in drafts.indices {
            let draft = drafts[index]
            let configNode = draft.node.mapping?["register"] ?? draft.node
            let path = "stage \(draft.name).register"
            guard isOwnKind(draft, .register, node: configNode, path: path) else { continue }
            switch RegisterSpec.read(draft.settings["register"]) {
            case .failure(let problems):
                for problem in problems.issues {
                    issue(configNode, problem.field.isEmpty ? path : "\(path).\(problem.field)", problem.message)
                }
            case .success(let register):
                guard let upstream = outputs[register.stage], graph.upstream(of: draft.name).contains(register.stage)
                else {
                    issue(
                        configNode, "\(path).artifact",
                        "'\(register.stage)' is not an upstream stage (add it to needs)")
                    continue
                }
                if upstream.contains(register.output) {
                    drafts[index].body = .register(register)
                } else {
                    issue(
                        configNode, "\(path).artifact",
                        "stage '\(register.stage)' declares no output '\(register.output)'")
                }
            }
        }
    }
}
