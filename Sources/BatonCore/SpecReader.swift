import Yams

/// Walks the YAML tree of a spec, collecting every problem with its line and path.
///
/// The walk is bounded whatever the YAML holds: every node it reads, through an alias or not,
/// spends one shared ``YAMLValueBudget``, and at most ``SpecLimits/maxKeptIssues`` problems are
/// kept (the rest are counted).
struct SpecReader {
    private(set) var issues: [SpecError.Issue] = []
    /// Problems found once ``issues`` was full.
    private(set) var omittedIssueCount = 0
    /// Set when the spec expands past ``SpecLimits``; the spec is then refused for that alone.
    private(set) var overBudget: SpecError.Issue?
    private var budget = YAMLValueBudget()

    // MARK: - Pipeline

    mutating func readPipeline(_ root: Node) -> PipelineSpec? {
        guard
            let top = mapping(
                root, path: "", allowed: ["apiVersion", "kind", "metadata", "params", "defaults", "stages"])
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
        var stages: [StageSpec] = []
        var stageNodes: [String: Node] = [:]
        for (index, node) in sequence.enumerated() {
            guard let stage = readStage(node, index: index, defaults: defaults, params: params) else { continue }
            if stageNodes[stage.name] != nil {
                issue(node, "stages[\(index)].name", "'\(stage.name)' is used by an earlier stage")
                continue
            }
            stageNodes[stage.name] = node
            stages.append(stage)
        }
        checkReferences(stages, nodes: stageNodes)
        guard issues.isEmpty else { return nil }
        do {
            let graph = try StageGraph(stages: stages.map { ($0.name, $0.needs) })
            checkInputs(stages, graph: graph, nodes: stageNodes)
            let spec = PipelineSpec(name: name, description: description, params: params, stages: stages, graph: graph)
            checkGateStages(spec, nodes: stageNodes)
            checkRolloutStages(spec, nodes: stageNodes)
            guard issues.isEmpty else { return nil }
            return spec
        } catch {
            issue(
                stageNodes[error.cycle[0]] ?? root, "stages",
                "cycle: \(error.cycle.joined(separator: " -> ")) (each needs the next)")
            return nil
        }
    }

    // MARK: - Params

    private mutating func readParams(_ node: Node) -> [String: ParamSpec] {
        guard case .mapping(let map) = node else {
            issue(node, "params", "must be a mapping of param name to {type, default}")
            return [:]
        }
        guard map.count <= SpecLimits.maxParams else {
            issue(node, "params", "declares \(map.count) params; the limit is \(SpecLimits.maxParams)")
            return [:]
        }
        var params: [String: ParamSpec] = [:]
        for (keyNode, valueNode) in map {
            let name = keyNode.scalar?.string ?? ""
            let path = "params.\(name)"
            checkName(name, node: keyNode, path: path)
            guard let fields = mapping(valueNode, path: path, allowed: ["type", "default", "enum", "description"])
            else {
                continue
            }
            guard let typeText = fields["type"].flatMap({ string($0, path: "\(path).type") }),
                let type = ParamType(rawValue: typeText)
            else {
                let allowed = ParamType.allCases.map(\.rawValue).joined(separator: ", ")
                issue(fields["type"] ?? valueNode, "\(path).type", "must be one of \(allowed)")
                continue
            }
            var spec = ParamSpec(type: type)
            spec.description = fields["description"].flatMap { string($0, path: "\(path).description") }
            if let allowedNode = fields["enum"] {
                spec.allowed = (allowedNode.sequence.map(Array.init) ?? []).enumerated().map {
                    json($1, path: "\(path).enum[\($0)]")
                }
                if spec.allowed.isEmpty { issue(allowedNode, "\(path).enum", "must be a non-empty list") }
            }
            if let defaultNode = fields["default"], let value = value(defaultNode, path: "\(path).default") {
                do {
                    spec.defaultValue = try ParamResolver.coerce(value, to: spec, name: name)
                } catch {
                    issue(defaultNode, "\(path).default", error.message)
                }
            }
            params[name] = spec
        }
        return params
    }

    // MARK: - Stages

    private struct StageDefaults {
        var pool = "default"
        var retry = RetryPolicy()
        var timeout: Duration = .seconds(6 * 3600)
        /// `defaults.cache`, for the stages that can be cached.
        var cache: Bool?
    }

    private mutating func readDefaults(_ node: Node) -> StageDefaults {
        var defaults = StageDefaults()
        guard let map = mapping(node, path: "defaults", allowed: ["pool", "retries", "timeout", "cache"]) else {
            return defaults
        }
        if let pool = map["pool"].flatMap({ string($0, path: "defaults.pool") }) {
            checkName(pool, node: map["pool"]!, path: "defaults.pool")
            defaults.pool = pool
        }
        if let retries = map["retries"] {
            defaults.retry = readRetry(retries, path: "defaults.retries", base: defaults.retry)
        }
        if let timeout = map["timeout"], let value = duration(timeout, path: "defaults.timeout") {
            defaults.timeout = value
        }
        if let cache = map["cache"] { defaults.cache = bool(cache, path: "defaults.cache") }
        return defaults
    }

    private mutating func readStage(
        _ node: Node, index: Int, defaults: StageDefaults, params: [String: ParamSpec]
    ) -> StageSpec? {
        let allowed: Set<String> = [
            "name", "kind", "needs", "pool", "retries", "timeout", "when", "params", "inputs", "outputs", "ray", "noop",
            "gate", "register", "rollout", "cache", "uses",
        ]
        let declaredName = node.mapping?["name"]?.scalar?.string
        // The name is quoted in every problem's path: a long one (or one used through many aliases) is cut.
        let path = declaredName.map { "stages[\(index)] (\(RequestLimits.quoted($0)))" } ?? "stages[\(index)]"
        guard let map = mapping(node, path: path, allowed: allowed) else { return nil }
        guard let name = map["name"].flatMap({ string($0, path: "\(path).name") }) else {
            issue(node, "\(path).name", "is required")
            return nil
        }
        checkName(name, node: map["name"]!, path: "\(path).name")
        var kind = StageKind.ray
        if let kindNode = map["kind"] {
            if let text = string(kindNode, path: "\(path).kind"), let value = StageKind(rawValue: text) {
                kind = value
            } else {
                let kinds = StageKind.allCases.map(\.rawValue).joined(separator: ", ")
                issue(kindNode, "\(path).kind", "must be one of \(kinds)")
            }
        }
        var stage = StageSpec(
            name: name, kind: kind, needs: [], pool: defaults.pool, retry: defaults.retry, timeout: defaults.timeout,
            when: nil, whenSource: nil, params: [:], inputs: [:], outputs: [], ray: nil, noop: NoopStageSpec(),
            config: [:], cache: false, uses: nil)
        if let needs = map["needs"] { stage.needs = stringList(needs, path: "\(path).needs") }
        if let pool = map["pool"].flatMap({ string($0, path: "\(path).pool") }) {
            checkName(pool, node: map["pool"]!, path: "\(path).pool")
            stage.pool = pool
        }
        if let retries = map["retries"] {
            stage.retry = readRetry(retries, path: "\(path).retries", base: defaults.retry)
        }
        if let timeout = map["timeout"], let value = duration(timeout, path: "\(path).timeout") {
            stage.timeout = value
        }
        if let whenNode = map["when"], let text = string(whenNode, path: "\(path).when") {
            stage.whenSource = text
            do {
                let expression = try Expression.parse(text)
                let unknown = expression.references.filter { !isKnownWhenReference($0.path, params: params) }
                for reference in unknown {
                    issue(
                        whenNode, "\(path).when",
                        "column \(reference.column): unknown reference '\(reference.path.joined(separator: "."))' "
                            + "(use params.<name> of a declared param)")
                }
                if unknown.isEmpty {
                    let type = try expression.typeCheck { params[$0[1]].map { ExpressionType($0.type) } ?? .any }
                    if type != .boolean, type != .any {
                        issue(whenNode, "\(path).when", "column 1: yields \(type.phrase), not true or false")
                    }
                }
                stage.when = expression
            } catch {
                issue(whenNode, "\(path).when", error.description)
            }
        }
        if let paramsNode = map["params"] {
            if case .mapping(let paramMap) = paramsNode, charge(paramMap.count, at: paramsNode) {
                for (key, value) in paramMap {
                    let name = key.scalar?.string ?? ""
                    stage.params[name] = json(value, path: "\(path).params.\(name)")
                }
            } else {
                issue(paramsNode, "\(path).params", "must be a mapping")
            }
        }
        if let inputsNode = map["inputs"] {
            if case .mapping(let inputMap) = inputsNode, charge(inputMap.count, at: inputsNode) {
                for (key, value) in inputMap {
                    stage.inputs[key.scalar?.string ?? ""] = string(value, path: "\(path).inputs") ?? ""
                }
            } else {
                issue(inputsNode, "\(path).inputs", "must be a mapping of input name to reference")
            }
        }
        if let outputs = map["outputs"] { stage.outputs = stringList(outputs, path: "\(path).outputs") }
        if let noopNode = map["noop"] { stage.noop = readNoop(noopNode, path: "\(path).noop") }
        if let rayNode = map["ray"] { stage.ray = readRay(rayNode, path: "\(path).ray") }
        if kind == .ray, stage.ray == nil, map["ray"] == nil {
            issue(node, "\(path).ray", "is required for kind 'ray' (at least ray.entrypoint)")
        }
        for builtIn in ["gate", "register", "rollout"] {
            if let configNode = map[builtIn] { stage.config[builtIn] = json(configNode, path: "\(path).\(builtIn)") }
        }
        readCaching(map, into: &stage, defaults: defaults, params: params, path: path)
        return stage
    }

    /// `cache` (default on for `ray` stages; refused for the other kinds) and `uses`
    /// (declared run params only).
    private mutating func readCaching(
        _ map: [String: Node], into stage: inout StageSpec, defaults: StageDefaults, params: [String: ParamSpec],
        path: String
    ) {
        let cacheable = stage.kind == .ray
        if let node = map["cache"], let cache = bool(node, path: "\(path).cache") {
            if cache, !cacheable {
                issue(node, "\(path).cache", "only ray stages can be cached, not a \(stage.kind.rawValue) stage")
            }
            stage.cache = cache && cacheable
        } else {
            stage.cache = cacheable && (defaults.cache ?? (stage.kind == .ray))
        }
        if let node = map["uses"] {
            let names = stringList(node, path: "\(path).uses")
            for name in names where params[name] == nil {
                issue(node, "\(path).uses", "'\(name)' is not a declared param")
            }
            stage.uses = names
        }
    }

    private func isKnownWhenReference(_ path: [String], params: [String: ParamSpec]) -> Bool {
        path.count == 2 && path[0] == "params" && params[path[1]] != nil
    }

    private mutating func readRetry(_ node: Node, path: String, base: RetryPolicy) -> RetryPolicy {
        var retry = base
        if let limit = node.int, node.scalar != nil {
            retry.limit = limit
        } else if let map = mapping(node, path: path, allowed: ["limit", "backoff", "factor", "maxBackoff"]) {
            if let limitNode = map["limit"] {
                if let limit = limitNode.int {
                    retry.limit = limit
                } else {
                    issue(limitNode, "\(path).limit", "must be an integer")
                }
            }
            if let backoff = map["backoff"], let value = duration(backoff, path: "\(path).backoff") {
                retry.initialBackoff = value
            }
            if let factorNode = map["factor"] {
                if let factor = factorNode.float, factor >= 1, factor <= 10 {
                    retry.factor = factor
                } else {
                    issue(factorNode, "\(path).factor", "must be a number from 1 to 10")
                }
            }
            if let maxNode = map["maxBackoff"], let value = duration(maxNode, path: "\(path).maxBackoff") {
                retry.maxBackoff = value
            }
        }
        if retry.limit < 0 || retry.limit > 100 { issue(node, "\(path).limit", "must be from 0 to 100") }
        return retry
    }

    private mutating func readNoop(_ node: Node, path: String) -> NoopStageSpec {
        var noop = NoopStageSpec()
        guard let map = mapping(node, path: path, allowed: ["sleep", "fail_attempts", "metrics"]) else { return noop }
        if let sleep = map["sleep"], let value = duration(sleep, path: "\(path).sleep") { noop.sleep = value }
        if let failNode = map["fail_attempts"] {
            if let count = failNode.int, count >= 0 {
                noop.failAttempts = count
            } else {
                issue(failNode, "\(path).fail_attempts", "must be a non-negative integer")
            }
        }
        if let metricsNode = map["metrics"] {
            if case .mapping(let metrics) = metricsNode, metrics.count <= 100 {
                for (key, value) in metrics {
                    let name = key.scalar?.string ?? ""
                    if let number = value.float, number.isFinite, !name.isEmpty {
                        noop.metrics[name] = number
                    } else {
                        issue(value, "\(path).metrics.\(name)", "must be a finite number")
                    }
                }
            } else {
                issue(metricsNode, "\(path).metrics", "must be a mapping of up to 100 metric keys to numbers")
            }
        }
        return noop
    }

    private mutating func readRay(_ node: Node, path: String) -> RayStageSpec? {
        guard let map = mapping(node, path: path, allowed: ["entrypoint", "runtime_env", "resources"]) else {
            return nil
        }
        guard let entrypoint = map["entrypoint"].flatMap({ string($0, path: "\(path).entrypoint") }),
            !entrypoint.isEmpty
        else {
            issue(map["entrypoint"] ?? node, "\(path).entrypoint", "is required")
            return nil
        }
        var runtimeEnv: [String: JSONValue] = [:]
        if let envNode = map["runtime_env"] {
            switch value(envNode, path: "\(path).runtime_env") {
            case .object(let object): runtimeEnv = object
            case nil: break
            default: issue(envNode, "\(path).runtime_env", "must be a mapping")
            }
        }
        var resources = ResourceSpec()
        if let resourcesNode = map["resources"],
            let fields = mapping(
                resourcesNode, path: "\(path).resources", allowed: ["cpus", "gpus", "memory", "custom"])
        {
            resources.cpus = fields["cpus"].flatMap { number($0, path: "\(path).resources.cpus") }
            resources.gpus = fields["gpus"].flatMap { number($0, path: "\(path).resources.gpus") }
            if let memoryNode = fields["memory"] {
                if let bytes = Self.bytes(memoryNode.scalar?.string ?? "") {
                    resources.memory = bytes
                } else {
                    issue(memoryNode, "\(path).resources.memory", "must be bytes or a size such as 512Mi, 8Gi")
                }
            }
            if let customNode = fields["custom"], case .mapping(let custom) = customNode,
                charge(custom.count, at: customNode)
            {
                for (key, value) in custom {
                    let name = key.scalar?.string ?? ""
                    resources.custom[name] = number(value, path: "\(path).resources.custom.\(name)")
                }
            }
        }
        return RayStageSpec(entrypoint: entrypoint, runtimeEnv: runtimeEnv, resources: resources)
    }

    // MARK: - Cross-stage checks

    private mutating func checkReferences(_ stages: [StageSpec], nodes: [String: Node]) {
        let names = Set(stages.map(\.name))
        for stage in stages {
            for dependency in stage.needs where !names.contains(dependency) {
                issue(nodes[stage.name]!, "stage \(stage.name).needs", "unknown stage '\(dependency)'")
            }
            if stage.needs.contains(stage.name) {
                issue(nodes[stage.name]!, "stage \(stage.name).needs", "a stage cannot need itself")
            }
        }
    }

    private mutating func checkInputs(_ stages: [StageSpec], graph: StageGraph, nodes: [String: Node]) {
        var ancestors: [String: Set<String>] = [:]
        for name in graph.order {
            ancestors[name] = (graph.needs[name] ?? []).reduce(into: Set<String>()) { result, dependency in
                result.insert(dependency)
                result.formUnion(ancestors[dependency] ?? [])
            }
        }
        let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
        for stage in stages {
            for (input, reference) in stage.inputs.sorted(by: { $0.key < $1.key }) {
                let parts = reference.split(separator: ".").map(String.init)
                let path = "stage \(stage.name).inputs.\(input)"
                if parts.count == 4, parts[0] == "stages", parts[2] == "outputs" {
                    guard let upstream = byName[parts[1]], ancestors[stage.name]?.contains(parts[1]) == true else {
                        issue(nodes[stage.name]!, path, "'\(parts[1])' is not an upstream stage (add it to needs)")
                        continue
                    }
                    if !upstream.outputs.contains(parts[3]) {
                        issue(nodes[stage.name]!, path, "stage '\(parts[1])' declares no output '\(parts[3])'")
                    }
                } else if parts.count == 2, parts[0] == "params" {
                    continue
                } else {
                    issue(
                        nodes[stage.name]!, path,
                        "'\(reference)' must be params.<name> or stages.<stage>.outputs.<name>")
                }
            }
        }
        checkRegisterStages(stages, byName: byName, ancestors: ancestors, nodes: nodes)
    }

    /// `register:` of each `register` stage: model, artifact (an upstream stage's declared
    /// output), alias; and no `register:` on another kind.
    private mutating func checkRegisterStages(
        _ stages: [StageSpec], byName: [String: StageSpec], ancestors: [String: Set<String>], nodes: [String: Node]
    ) {
        for stage in stages {
            let node = nodes[stage.name]!
            let configNode = node.mapping?["register"] ?? node
            let path = "stage \(stage.name).register"
            guard stage.kind == .register else {
                if stage.config["register"] != nil {
                    issue(configNode, path, "is only for kind 'register', not \(stage.kind.rawValue)")
                }
                continue
            }
            switch RegisterSpec.read(stage.config["register"]) {
            case .failure(let problems):
                for problem in problems.issues {
                    issue(configNode, problem.field.isEmpty ? path : "\(path).\(problem.field)", problem.message)
                }
            case .success(let register):
                guard let upstream = byName[register.stage], ancestors[stage.name]?.contains(register.stage) == true
                else {
                    issue(
                        configNode, "\(path).artifact",
                        "'\(register.stage)' is not an upstream stage (add it to needs)")
                    continue
                }
                if !upstream.outputs.contains(register.output) {
                    issue(
                        configNode, "\(path).artifact",
                        "stage '\(register.stage)' declares no output '\(register.output)'")
                }
            }
        }
    }

    /// `rollout:` of each `rollout` stage (target, steps, analysis templates and the templates
    /// steps name; see ``RolloutSpec``) and the upstream `register` stage its candidate comes from.
    private mutating func checkRolloutStages(_ spec: PipelineSpec, nodes: [String: Node]) {
        for stage in spec.stages {
            let node = nodes[stage.name]!
            let configNode = node.mapping?["rollout"] ?? node
            let path = "stage \(stage.name).rollout"
            guard stage.kind == .rollout else {
                if stage.config["rollout"] != nil {
                    issue(configNode, path, "is only for kind 'rollout', not \(stage.kind.rawValue)")
                }
                continue
            }
            if case .failure(let problems) = RolloutSpec.read(stage.config["rollout"]) {
                for problem in problems.issues {
                    let stepNode = problem.step.flatMap { configNode.mapping?["steps"]?.sequence?[$0] }
                    issue(
                        stepNode ?? configNode, problem.field.isEmpty ? path : "\(path).\(problem.field)",
                        problem.message)
                }
            }
            let registers = RolloutSpec.registerStages(upstreamOf: stage.name, in: spec)
            if registers.count != 1 {
                issue(
                    node, path,
                    "needs exactly one upstream 'register' stage (its version is the candidate); found \(registers.count)"
                )
            }
        }
    }

    /// `gate:` of each `gate` stage: the condition's syntax, references (declared params,
    /// upstream metrics, the champion), types and champion guards, and the model it compares with.
    private mutating func checkGateStages(_ spec: PipelineSpec, nodes: [String: Node]) {
        let names = Set(spec.stages.map(\.name))
        for stage in spec.stages where stage.kind == .gate {
            let node = nodes[stage.name]!
            let configNode = node.mapping?["gate"]
            let path = "stage \(stage.name).gate"
            let problems: [GateSpec.Issue]
            switch GateSpec.read(stage.config["gate"]) {
            case .failure(let failure):
                problems = failure.issues
            case .success(let gate):
                problems = gate.problems(
                    params: spec.params, stages: names, upstream: spec.upstream(of: stage.name),
                    championModel: spec.championModel(forGate: stage))
            }
            for problem in problems {
                let fieldNode = configNode?.mapping?[problem.field] ?? configNode ?? node
                issue(fieldNode, problem.field.isEmpty ? path : "\(path).\(problem.field)", problem.message)
            }
        }
    }

    // MARK: - Scalars

    private mutating func mapping(_ node: Node, path: String, allowed: Set<String>) -> [String: Node]? {
        guard case .mapping(let map) = node else {
            issue(node, path, "must be a mapping")
            return nil
        }
        guard charge(map.count, at: node) else { return nil }
        var result: [String: Node] = [:]
        for (keyNode, value) in map {
            let key = keyNode.scalar?.string ?? ""
            if !allowed.contains(key) {
                let field = path.isEmpty ? key : "\(path).\(key)"
                issue(keyNode, field, "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            result[key] = value
        }
        return result
    }

    private mutating func string(_ node: Node, path: String) -> String? {
        guard let scalar = node.scalar else {
            issue(node, path, "must be a string")
            return nil
        }
        return scalar.string
    }

    private mutating func bool(_ node: Node, path: String) -> Bool? {
        guard let value = node.bool else {
            issue(node, path, "must be true or false")
            return nil
        }
        return value
    }

    private mutating func number(_ node: Node, path: String) -> Double? {
        if let value = node.float, !value.isFinite {
            issue(node, path, "\(node.scalar?.string ?? "") is not a finite number; JSON cannot carry it")
            return nil
        }
        guard let value = node.float, value >= 0 else {
            issue(node, path, "must be a non-negative number")
            return nil
        }
        return value
    }

    private mutating func stringList(_ node: Node, path: String) -> [String] {
        guard case .sequence(let sequence) = node else {
            issue(node, path, "must be a list")
            return []
        }
        guard charge(sequence.count, at: node) else { return [] }
        return sequence.compactMap { string($0, path: path) }
    }

    private mutating func duration(_ node: Node, path: String) -> Duration? {
        guard let text = node.scalar?.string, let value = DurationParsing.parse(text) else {
            issue(node, path, "'\(node.scalar?.string ?? "")' is not a duration (e.g. 30s, 5m, 2h, 1h30m)")
            return nil
        }
        return value
    }

    private mutating func checkName(_ name: String, node: Node, path: String) {
        if !Self.isValidName(name) {
            issue(
                node, path, "'\(name)' must be lower-case letters, digits, '-' or '_', starting with a letter (max 63)")
        }
    }

    /// Records a problem; past ``SpecLimits/maxKeptIssues`` it is only counted (and its text
    /// never built).
    private mutating func issue(
        _ node: Node, line: Int? = nil, _ path: @autoclosure () -> String, _ message: @autoclosure () -> String
    ) {
        guard issues.count < SpecLimits.maxKeptIssues else {
            omittedIssueCount += 1
            return
        }
        issues.append(
            SpecError.Issue(
                line: line ?? node.mark?.line,
                path: SafeText.make(path(), limit: SpecLimits.maxIssueBytes / 2),
                message: SafeText.make(message(), limit: SpecLimits.maxIssueBytes)))
    }

    /// Spends `count` nodes of the budget for walking the children of `node`; false (and the
    /// spec is refused) once the budget is spent.
    private mutating func charge(_ count: Int, at node: Node) -> Bool {
        guard overBudget == nil else { return false }
        guard budget.takeNodes(count) else {
            overBudget = SpecError.Issue(
                line: node.mark?.line, path: "", message: "the spec " + YAMLValueBudget.nodesProblem)
            return false
        }
        return true
    }

    // MARK: - Conversions

    /// Names of pipelines, params, stages and pools: `[a-z][a-z0-9_-]{0,62}`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.unicodeScalars.count <= 63 else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }
    }

    /// The JSON value of a node, spending the spec's budget; a problem in it (a non-finite
    /// number, a NUL, a non-string key, too deep) becomes an issue naming its full path, and the
    /// value `null`.
    private mutating func json(_ node: Node, path: String) -> JSONValue {
        value(node, path: path) ?? .null
    }

    /// The JSON value of a node, or nil when it has a problem (recorded as ``json(_:path:)`` does).
    private mutating func value(_ node: Node, path: String) -> JSONValue? {
        guard overBudget == nil else { return nil }
        do {
            return try JSONValue(yaml: node, budget: &budget)
        } catch {
            let fullPath = error.path.isEmpty ? path : path + (error.path.hasPrefix("[") ? "" : ".") + error.path
            if error.isOverBudget {
                overBudget = SpecError.Issue(
                    line: error.line ?? node.mark?.line,
                    path: SafeText.make(fullPath, limit: SpecLimits.maxIssueBytes / 2),
                    message: "the spec " + error.problem)
            } else {
                issue(node, line: error.line, fullPath, error.problem)
            }
            return nil
        }
    }

    static func bytes(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("K", 1000), ("M", 1_000_000),
            ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ]
        for (suffix, size) in units where text.hasSuffix(suffix) {
            guard let amount = Int64(text.dropLast(suffix.count)), amount > 0 else { return nil }
            return amount * size
        }
        return Int64(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
