import Yams

/// Walks the YAML tree of a spec, collecting every problem with its line and path.
///
/// The walk has two passes. Each stage's mapping is first read on its own into a ``StageDraft``;
/// once every stage is known, the checks that need the whole pipeline run (references, the DAG,
/// the settings of the built-in kinds), and each draft becomes a ``StageSpec`` with its
/// ``StageBody``, read once here so that nothing reads a stage's settings from JSON again.
///
/// The walk is bounded whatever the YAML holds: every node it reads, through an alias or not,
/// spends one shared ``YAMLValueBudget``, and at most ``SpecLimits/maxKeptIssues`` problems are
/// kept (the rest are counted).
///
/// Its parts, one concern per file: the pipeline (here), params, stage settings common to every
/// kind, each kind's body, references between stages, scalars, and problems.
struct SpecReader {
    /// The problems found, at most ``SpecLimits/maxKeptIssues``.
    var issues: [SpecError.Issue] = []
    /// Problems found once ``issues`` was full.
    var omittedIssueCount = 0
    /// Set when the spec expands past ``SpecLimits``; the spec is then refused for that alone.
    var overBudget: SpecError.Issue?
    /// What is left of the spec's node and byte budget.
    var budget = YAMLValueBudget()

    // MARK: - Pipeline

    /// The spec, or `nil` when it has a problem (recorded in ``issues``).
    mutating func readPipeline(_ root: Node) -> PipelineSpec? {
        guard
            let top = mapping(
                root, path: "",
                allowed: ["apiVersion", "kind", "metadata", "params", "defaults", "stages", "triggers", "notify"])
        else { return nil }
        if let node = top["apiVersion"], string(node, path: "apiVersion") != "baton/v1" {
            issue(node, "apiVersion", "must be 'baton/v1'")
        } else if top["apiVersion"] == nil {
            issue(root, "apiVersion", "is required ('baton/v1')")
        }
        if let node = top["kind"], string(node, path: "kind") != "Pipeline" {
            issue(node, "kind", "must be 'Pipeline'")
        }
        var name = ""
        var description: String?
        if let metadataNode = top["metadata"],
            let metadata = mapping(metadataNode, path: "metadata", allowed: ["name", "description", "labels"])
        {
            name = metadata["name"].flatMap { string($0, path: "metadata.name") } ?? ""
            checkName(name, node: metadata["name"] ?? metadataNode, path: "metadata.name")
            description = metadata["description"].flatMap { string($0, path: "metadata.description") }
        } else {
            issue(root, "metadata.name", "is required")
        }
        var params: [String: ParamSpec] = [:]
        if let paramsNode = top["params"] { params = readParams(paramsNode) }
        var triggers: [AlertTrigger] = []
        if let triggersNode = top["triggers"] { triggers = readTriggers(triggersNode, params: params) }
        var notify: [NotificationTarget] = []
        if let notifyNode = top["notify"] { notify = readNotify(notifyNode) }
        var defaults = StageDefaults()
        if let defaultsNode = top["defaults"] { defaults = readDefaults(defaultsNode) }
        guard let stagesNode = top["stages"], case .sequence(let sequence) = stagesNode, !sequence.isEmpty else {
            issue(top["stages"] ?? root, "stages", "must be a non-empty list of stages")
            return nil
        }
        guard sequence.count <= SpecLimits.maxStages else {
            issue(stagesNode, "stages", "has \(sequence.count) stages; the limit is \(SpecLimits.maxStages)")
            return nil
        }
        var drafts: [StageDraft] = []
        var names: Set<String> = []
        for (index, node) in sequence.enumerated() {
            guard let draft = readStage(node, index: index, defaults: defaults, params: params) else { continue }
            guard names.insert(draft.name).inserted else {
                issue(node, "stages[\(index)].name", "'\(draft.name)' is used by an earlier stage")
                continue
            }
            drafts.append(draft)
        }
        checkReferences(drafts)
        guard issues.isEmpty else { return nil }
        let graph: StageGraph
        do {
            graph = try StageGraph(stages: drafts.map { ($0.name, $0.stage.needs) })
        } catch {
            issue(
                drafts.first { $0.name == error.cycle[0] }?.node ?? root, "stages",
                "cycle: \(error.cycle.joined(separator: " -> ")) (each needs the next)")
            return nil
        }
        checkInputs(drafts, graph: graph)
        readRegisterBodies(&drafts, graph: graph)
        readGateBodies(&drafts, graph: graph, params: params)
        readRolloutBodies(&drafts, graph: graph)
        let stages = drafts.compactMap(\.spec)
        // A draft without a body always left a problem behind.
        guard issues.isEmpty, stages.count == drafts.count else { return nil }
        return PipelineSpec(
            name: name, description: description, params: params, stages: stages, graph: graph, triggers: triggers,
            notify: notify)
    }
}
