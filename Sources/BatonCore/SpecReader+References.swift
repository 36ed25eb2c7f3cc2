import Yams

extension SpecReader {
    // MARK: - References between stages

    /// `needs:` names stages of the pipeline, and not the stage itself.
    mutating func checkReferences(_ drafts: [StageDraft]) {
        let names = Set(drafts.map(\.name))
        for draft in drafts {
            for dependency in draft.stage.needs where !names.contains(dependency) {
                issue(draft.node, "stage \(draft.name).needs", "unknown stage '\(dependency)'")
            }
            if draft.stage.needs.contains(draft.name) {
                issue(draft.node, "stage \(draft.name).needs", "a stage cannot need itself")
            }
        }
    }

    /// `inputs:` reference declared params or declared outputs of upstream stages.
    mutating func checkInputs(_ drafts: [StageDraft], graph: StageGraph) {
        let outputs = Dictionary(uniqueKeysWithValues: drafts.map { ($0.name, $0.stage.outputs) })
        for draft in drafts {
            let ancestors = graph.upstream(of: draft.name)
            for (input, reference) in draft.stage.inputs.sorted(by: { $0.key < $1.key }) {
                let parts = reference.split(separator: ".").map(String.init)
                let path = "stage \(draft.name).inputs.\(input)"
                if parts.count == 4, parts[0] == "stages", parts[2] == "outputs" {
                    guard let upstream = outputs[parts[1]], ancestors.contains(parts[1]) else {
                        issue(draft.node, path, "'\(parts[1])' is not an upstream stage (add it to needs)")
                        continue
                    }
                    if !upstream.contains(parts[3]) {
                        issue(draft.node, path, "stage '\(parts[1])' declares no output '\(parts[3])'")
                    }
                } else if parts.count == 2, parts[0] == "params" {
                    continue
                } else {
                    issue(draft.node, path, "'\(reference)' must be params.<name> or stages.<stage>.outputs.<name>")
                }
            }
        }
    }
}
