/// The values a gate reads: the run's params, its upstream stages' metrics and the champion.
public struct GateInputs: Sendable, Hashable {
    /// The run's params.
    public var params: [String: JSONValue]
    /// stage -> metric key -> value at the last step, of each upstream stage's succeeded attempt.
    public var stageMetrics: [String: [String: Double]]
    /// The model's current champion; `nil` when it has none (or the gate names no model).
    public var champion: Champion?

    /// A model's `champion` version and the metrics snapshot registered with it.
    public struct Champion: Sendable, Hashable {
        /// The model's name.
        public var model: String
        /// The version the `champion` alias points at.
        public var version: Int
        /// stage -> metric key -> value, as `model_versions.metrics` stores it.
        public var metrics: [String: [String: Double]]

        /// A champion with the given fields.
        public init(model: String, version: Int, metrics: [String: [String: Double]]) {
            self.model = model
            self.version = version
            self.metrics = metrics
        }
    }

    /// Inputs with the given fields.
    public init(params: [String: JSONValue], stageMetrics: [String: [String: Double]], champion: Champion?) {
        self.params = params
        self.stageMetrics = stageMetrics
        self.champion = champion
    }
}

/// A gate's verdict with everything it saw: what an audit reads in `gate_decisions`.
public struct GateDecision: Sendable, Hashable {
    /// Whether the condition held.
    public var passed: Bool
    /// Every reference of the condition -> the value it had (`null` when missing).
    public var observed: [String: JSONValue]
    /// For a rejection: the clauses that made the condition false, with their values, joined by `; `.
    public var failedClause: String?
}

extension GateSpec {
    /// Evaluates the condition over `inputs`.
    ///
    /// - Throws: `ExpressionError` when the condition cannot be evaluated: a value it needs is
    ///   missing with no `??` for it (a metric the upstream job never reported), or
    ///   `champion.metrics.<key>` is ambiguous (several stages of the snapshot have the key).
    public func decide(_ inputs: GateInputs) throws(ExpressionError) -> GateDecision {
        var values: [[String]: JSONValue] = [:]
        var observed: [String: JSONValue] = [:]
        for (path, column) in condition.references {
            let value = try Self.resolve(path, column: column, in: inputs)
            values[path] = value
            observed[path.joined(separator: ".")] = value ?? .null
        }
        let lookup = { (path: [String]) in values[path] }
        let passed = try condition.evaluate(lookup)
        let clauses = passed ? [] : try condition.failedClauses(lookup)
        return GateDecision(
            passed: passed, observed: observed,
            failedClause: passed ? nil : clauses.isEmpty ? condition.text : clauses.joined(separator: "; "))
    }

    private static func resolve(
        _ path: [String], column: Int, in inputs: GateInputs
    ) throws(ExpressionError) -> JSONValue? {
        switch (path.first, path.count) {
        case ("params", 2):
            return inputs.params[path[1]]
        case ("stages", 4):
            return inputs.stageMetrics[path[1]]?[path[3]].map(JSONValue.double)
        case ("champion", 1):
            return inputs.champion.map { .object(["model": .string($0.model), "version": .int(Int64($0.version))]) }
        case ("champion", 5):
            return inputs.champion?.metrics[path[2]]?[path[4]].map(JSONValue.double)
        case ("champion", 3):
            guard let champion = inputs.champion else { return nil }
            let holders = champion.metrics.keys.sorted().filter { champion.metrics[$0]?[path[2]] != nil }
            guard holders.count <= 1 else {
                throw ExpressionError(
                    column: column,
                    message: "'\(path.joined(separator: "."))' is ambiguous: stages \(holders.joined(separator: ", ")) "
                        + "of \(champion.model) v\(champion.version) report '\(path[2])'; write "
                        + "champion.stages.<stage>.metrics.\(path[2])")
            }
            return holders.first.flatMap { champion.metrics[$0]?[path[2]] }.map(JSONValue.double)
        default:
            return nil
        }
    }
}
