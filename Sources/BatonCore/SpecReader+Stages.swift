import Yams

/// A stage as its own mapping reads, before the checks that need every stage (references, the
/// DAG, the settings of a built-in kind) have run.
struct StageDraft {
    /// The stage's mapping, for the line of a problem found later.
    let node: Node
    /// The declared kind.
    let kind: StageKind
    /// Everything but the body, which is a stand-in until ``body`` is known: read ``kind``,
    /// not `stage.kind`.
    var stage: StageSpec
    /// The body of the stage's kind once read and checked; `nil` until then, or when it has a problem.
    var body: StageBody?
    /// `gate:`, `register:` and `rollout:` as written, by key (a stage may carry one of another
    /// kind; that is refused or ignored once every stage is known).
    var settings: [String: JSONValue] = [:]

    /// The stage's name.
    var name: String { stage.name }

    /// The stage with its body; `nil` while the body is unknown.
    var spec: StageSpec? {
        guard let body else { return nil }
        var spec = stage
        spec.body = body
        return spec
    }
}

extension SpecReader {
    // MARK: - Stage settings every kind has

    /// `defaults:` of the spec, for the stages that do not set their own.
    struct StageDefaults {
        var pool = "default"
        var retry = RetryPolicy()
        var timeout: Duration = .seconds(6 * 3600)
        /// `defaults.cache`, for the stages that can be cached.
        var cache: Bool?
    }

    /// The fields a stage mapping may have: the common settings and one body per kind, named after it.
    private static let stageFields = Set(
        ["name", "kind", "needs", "pool", "retries", "timeout", "when", "params", "inputs", "outputs", "cache", "uses"]
            + StageKind.allCases.map(\.rawValue))

    /// The kinds whose settings are kept as written (JSON) until every stage is known: all but
    /// the two whose mapping alone decides their body.
    private static let settingsKinds = StageKind.allCases.filter { $0 != .ray && $0 != .noop }

    /// `defaults:` of the spec.
    mutating func readDefaults(_ node: Node) -> StageDefaults {
        guard let map = mapping(node, path: "defaults", allowed: ["pool", "retries", "timeout", "cache"]) else {
            return StageDefaults()
        }
        var defaults = readScheduling(map, path: "defaults", over: StageDefaults())
        if let cache = map["cache"] { defaults.cache = bool(cache, path: "defaults.cache") }
        return defaults
    }

    /// `pool`, `retries` and `timeout` of `defaults:` or of a stage, over `base`.
    private mutating func readScheduling(_ map: [String: Node], path: String, over base: StageDefaults)
        -> StageDefaults
    {
        var result = base
        if let pool = map["pool"].flatMap({ string($0, path: "\(path).pool") }) {
            checkName(pool, node: map["pool"]!, path: "\(path).pool")
            result.pool = pool
        }
        if let retries = map["retries"] {
            result.retry = readRetry(retries, path: "\(path).retries", base: base.retry)
        }
        if let timeout = map["timeout"], let value = duration(timeout, path: "\(path).timeout") {
            result.timeout = value
        }
        return result
    }

    /// One stage's mapping; `nil` when it cannot even be named.
    mutating func readStage(
        _ node: Node, index: Int, defaults: StageDefaults, params: [String: ParamSpec]
    ) -> StageDraft? {
        let declaredName = node.mapping?["name"]?.scalar?.string
        // The name is quoted in every problem's path: a long one (or one used through many aliases) is cut.
        let path = declaredName.map { "stages[\(index)] (\(RequestLimits.quoted($0)))" } ?? "stages[\(index)]"
        guard let map = mapping(node, path: path, allowed: Self.stageFields) else { return nil }
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
        let needs = map["needs"].map { stringList($0, path: "\(path).needs") } ?? []
        let scheduling = readScheduling(map, path: path, over: defaults)
        var stage = StageSpec(
            name: name, needs: needs, pool: scheduling.pool, retry: scheduling.retry, timeout: scheduling.timeout,
            when: nil, whenSource: nil, params: [:], inputs: [:], outputs: [], body: .noop(NoopStageSpec()),
            cache: false, uses: nil)
        if let whenNode = map["when"], let text = string(whenNode, path: "\(path).when") {
            stage.whenSource = text
            stage.when = readWhen(text, node: whenNode, path: "\(path).when", params: params)
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
        var draft = StageDraft(node: node, kind: kind, stage: stage)
        readBody(map, into: &draft, path: path)
        readCaching(map, into: &draft.stage, kind: kind, defaults: defaults, params: params, path: path)
        return draft
    }

    /// The body of the stage's kind where its mapping alone decides it (`ray`, `noop`); the
    /// settings of the other kinds are kept as written, to be read once every stage is known.
    private mutating func readBody(_ map: [String: Node], into draft: inout StageDraft, path: String) {
        let noop = map["noop"].map { readNoop($0, path: "\(path).noop") }
        let ray = map["ray"].flatMap { readRay($0, path: "\(path).ray") }
        switch draft.kind {
        case .ray:
            if map["ray"] == nil {
                issue(draft.node, "\(path).ray", "is required for kind 'ray' (at least ray.entrypoint)")
            }
            draft.body = ray.map(StageBody.ray)
        case .noop:
            draft.body = .noop(noop ?? NoopStageSpec())
        case .gate, .register, .rollout:
            break
        }
        for kind in Self.settingsKinds {
            if let node = map[kind.rawValue] {
                draft.settings[kind.rawValue] = json(node, path: "\(path).\(kind.rawValue)")
            }
        }
    }

    /// Whether `draft` is of `kind`; when it is not, settings of `kind` on it are a problem.
    mutating func isOwnKind(_ draft: StageDraft, _ kind: StageKind, node: Node, path: String) -> Bool {
        guard draft.kind != kind else { return true }
        if draft.settings[kind.rawValue] != nil {
            issue(node, path, "is only for kind '\(kind.rawValue)', not \(draft.kind.rawValue)")
        }
        return false
    }

    /// `when:` parsed, and checked against the declared params; `nil` when it does not parse.
    private mutating func readWhen(_ text: String, node: Node, path: String, params: [String: ParamSpec])
        -> Expression?
    {
        do {
            let expression = try Expression.parse(text)
            let unknown = expression.references.filter { !isKnownWhenReference($0.path, params: params) }
            for reference in unknown {
                issue(
                    node, path,
                    "column \(reference.column): unknown reference '\(reference.path.joined(separator: "."))' "
                        + "(use params.<name> of a declared param)")
            }
            if unknown.isEmpty {
                let type = try expression.typeCheck { params[$0[1]].map { ExpressionType($0.type) } ?? .any }
                if type != .boolean, type != .any {
                    issue(node, path, "column 1: yields \(type.phrase), not true or false")
                }
            }
            return expression
        } catch {
            issue(node, path, error.description)
            return nil
        }
    }

    private func isKnownWhenReference(_ path: [String], params: [String: ParamSpec]) -> Bool {
        path.count == 2 && path[0] == "params" && params[path[1]] != nil
    }

    /// `cache` (default on for `ray` stages; refused for the other kinds) and `uses`
    /// (declared run params only).
    private mutating func readCaching(
        _ map: [String: Node], into stage: inout StageSpec, kind: StageKind, defaults: StageDefaults,
        params: [String: ParamSpec], path: String
    ) {
        let cacheable = kind == .ray
        if let node = map["cache"], let cache = bool(node, path: "\(path).cache") {
            if cache, !cacheable {
                issue(node, "\(path).cache", "only ray stages can be cached, not a \(kind.rawValue) stage")
            }
            stage.cache = cache && cacheable
        } else {
            stage.cache = cacheable && (defaults.cache ?? (kind == .ray))
        }
        if let node = map["uses"] {
            let names = stringList(node, path: "\(path).uses")
            for name in names where params[name] == nil {
                issue(node, "\(path).uses", "'\(name)' is not a declared param")
            }
            stage.uses = names
        }
    }
}
