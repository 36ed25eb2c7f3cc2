/// What a `gate` stage checks: `gate: {condition, model}` of the spec.
///
/// `condition` is an `Expression` over `params.<declared param>`,
/// `stages.<upstream stage>.metrics.<key>` (the last step the stage's succeeded attempt
/// reported) and the current champion of `model`: `champion.metrics.<key>` (the one stage of
/// its metrics snapshot with that key), `champion.stages.<stage>.metrics.<key>`, and
/// `has(champion)`. The first model has no champion, so every `champion` reference must say
/// what happens then (`?? fallback`, or behind `has(champion) &&` / `!has(champion) ||`).
public struct GateSpec: Sendable, Hashable {
    /// The parsed condition.
    public var condition: Expression
    /// The condition as written.
    public var conditionSource: String
    /// `gate.model` as written; see `PipelineSpec.championModel(forGate:)` for the default.
    public var model: String?

    /// A gate's settings.
    public init(condition: Expression, conditionSource: String, model: String? = nil) {
        self.condition = condition
        self.conditionSource = conditionSource
        self.model = model
    }

    /// A problem in a `gate:` mapping: the field and what is wrong with it.
    public struct Issue: Sendable, Hashable {
        /// `condition`, `model`, or empty for the mapping itself.
        public var field: String
        /// What is wrong, as a sentence fragment after the field.
        public var message: String
    }

    /// Whether the condition reads the champion at all.
    public var readsChampion: Bool { condition.references.contains { $0.path.first == "champion" } }

    /// Reads a `gate:` mapping as the spec reader keeps it: the fields and the condition's syntax.
    ///
    /// - Returns: the spec, or every problem found. References, types and guards need the
    ///   pipeline and are checked by `problems(params:upstream:championModel:)`.
    public static func read(_ value: JSONValue?) -> Result<GateSpec, GateSpecIssues> {
        guard case .object(let fields) = value else {
            return .failure(
                GateSpecIssues(issues: [Issue(field: "", message: "is required for kind 'gate': {condition}")]))
        }
        var issues: [Issue] = []
        for key in fields.keys.sorted() where key != "condition" && key != "model" {
            issues.append(Issue(field: key, message: "unknown field (allowed: condition, model)"))
        }
        var model: String?
        if let modelValue = fields["model"] {
            if case .string(let text) = modelValue, RegisterSpec.isValidModelName(text) {
                model = text
            } else {
                issues.append(Issue(field: "model", message: "must be the name of a registered model"))
            }
        }
        guard case .string(let source) = fields["condition"] else {
            issues.append(Issue(field: "condition", message: "is required: an expression that must be true to pass"))
            return .failure(GateSpecIssues(issues: issues))
        }
        do {
            let condition = try Expression.parse(source)
            guard issues.isEmpty else { return .failure(GateSpecIssues(issues: issues)) }
            return .success(GateSpec(condition: condition, conditionSource: source, model: model))
        } catch {
            issues.append(Issue(field: "condition", message: error.description))
            return .failure(GateSpecIssues(issues: issues))
        }
    }

    /// Checks the condition against the pipeline: known references, operand types, a boolean
    /// result, guarded `champion` reads, and a model for them.
    ///
    /// - Parameters:
    ///   - params: the pipeline's declared params.
    ///   - stages: every stage name of the pipeline.
    ///   - upstream: the stages this gate needs, directly or not.
    ///   - championModel: the model whose champion is meant (`gate.model` or the default).
    public func problems(
        params: [String: ParamSpec], stages: Set<String>, upstream: Set<String>, championModel: String?
    ) -> [Issue] {
        var issues: [Issue] = []
        for (path, column) in condition.references {
            if let problem = Self.referenceProblem(path, params: params, stages: stages, upstream: upstream) {
                issues.append(Issue(field: "condition", message: "column \(column): \(problem)"))
            }
        }
        guard issues.isEmpty else { return issues }
        do {
            let type = try condition.typeCheck { path in
                switch path.first {
                case "params": params[path[1]].map { ExpressionType($0.type) } ?? .any
                case "champion" where path.count == 1: .any
                default: .number
                }
            }
            if !type.fits(.boolean) {
                issues.append(
                    Issue(
                        field: "condition", message: "column 1: the condition yields \(type.phrase), not true or false")
                )
            }
        } catch {
            issues.append(Issue(field: "condition", message: error.description))
        }
        for (path, column) in condition.unguardedReferences(under: ["champion"]) {
            let name = path.joined(separator: ".")
            issues.append(
                Issue(
                    field: "condition",
                    message: "column \(column): '\(name)' is read without saying what happens when there is no "
                        + "champion yet (the first model has none): write '\(name) ?? <value>', or guard it with "
                        + "'has(champion) && ...' or '!has(champion) || ...'"))
        }
        if readsChampion, championModel == nil {
            issues.append(
                Issue(
                    field: "model",
                    message: "is required when the condition reads champion and the register stages downstream "
                        + "do not name exactly one model"))
        }
        return issues
    }

    private static func referenceProblem(
        _ path: [String], params: [String: ParamSpec], stages: Set<String>, upstream: Set<String>
    ) -> String? {
        let name = path.joined(separator: ".")
        switch path.first {
        case "params":
            return path.count == 2 && params[path[1]] != nil ? nil : "'\(name)' is not a declared param"
        case "stages":
            guard path.count == 4, path[2] == "metrics" else { break }
            guard stages.contains(path[1]) else { return "'\(path[1])' in '\(name)' is not a stage" }
            return upstream.contains(path[1])
                ? nil : "'\(path[1])' in '\(name)' is not an upstream stage (add it to needs)"
        case "champion":
            let isKnown =
                path.count == 1 || (path.count == 3 && path[1] == "metrics")
                || (path.count == 5 && path[1] == "stages" && path[3] == "metrics")
            if isKnown { return nil }
        default:
            break
        }
        return "unknown reference '\(name)' (use params.<name>, stages.<upstream stage>.metrics.<key>, "
            + "champion.metrics.<key>, champion.stages.<stage>.metrics.<key> or has(champion))"
    }
}

/// The problems of a `gate:` mapping.
public struct GateSpecIssues: Error, Sendable, Hashable {
    /// Every problem found, in field order.
    public var issues: [GateSpec.Issue]
}

extension GateSpec {
    /// The model whose champion a gate compares against: the gate's own `model`, else the one
    /// model that the `register` stages downstream of it name (none when they name several).
    static func championModel(named model: String?, registeredDownstream models: some Sequence<String>) -> String? {
        if let model { return model }
        let distinct = Set(models)
        return distinct.count == 1 ? distinct.first : nil
    }
}

extension PipelineSpec {
    /// The registered model whose `champion` alias a gate compares against: its `gate.model`,
    /// else the model of the `register` stages downstream of it when they name exactly one.
    public func championModel(forGate stage: StageSpec) -> String? {
        GateSpec.championModel(
            named: stage.gate?.model,
            registeredDownstream: graph.downstream(of: stage.name).compactMap { self.stage(named: $0)?.register?.model }
        )
    }
}
