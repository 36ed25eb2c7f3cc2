/// What a `rollout` stage does: `rollout: {target, steps, analysisTemplates}` of the spec.
///
/// ```yaml
/// rollout:
///   target: ray-serve              # or argo
///   analysisTemplates:             # optional; steps may also name a built-in template
///     errors:
///       interval: 2s               # between measurements (default 10s)
///       count: 3                   # measurements taken (default 3)
///       failureLimit: 0            # failed measurements tolerated (default 0)
///       consecutiveErrorLimit: 4   # measurements without data tolerated in a row (default 4)
///       metrics:
///         - name: success-rate
///           query: sum(rate(ray_baton_serve_requests_total{version="{{candidate.version}}",outcome="ok"}[20s]))
///           successCondition: result >= 0.95
///   steps:
///     - setWeight: 20
///     - analysis: {template: errors}
///     - pause: 30s
///     - setWeight: 100
/// ```
///
/// A query may use `{{model}}`, `{{candidate.version}}` and `{{stable.version}}`; a measurement
/// with no data is an error (see ``AnalysisTemplate``). Built-in templates:
/// ``AnalysisTemplate/builtIn``.
public struct RolloutSpec: Sendable, Hashable {
    /// The serving platforms a rollout can drive.
    public enum Target: String, Sendable, Hashable, CaseIterable {
        /// Ray Serve: Baton steps a weighted router and runs the analyses itself.
        case rayServe = "ray-serve"
        /// Argo Rollouts on Kubernetes: Argo steps the Rollout; Baton follows it.
        case argo = "argo"
    }

    /// One step as written in the spec.
    public enum Step: Sendable, Hashable {
        /// The candidate's share of traffic, 0...100.
        case setWeight(Int)
        /// Hold the current weights.
        case pause(Duration)
        /// Run the named template (defined in `analysisTemplates` or built in).
        case analysis(template: String)
    }

    /// The most steps a rollout may have.
    public static let maxSteps = 64

    /// The platform that serves the model.
    public var target: Target
    /// The steps, in order.
    public var steps: [Step]
    /// The templates the steps may name: the spec's own and the built-in ones.
    public var templates: [String: AnalysisTemplate]

    /// A rollout's settings.
    public init(target: Target, steps: [Step], templates: [String: AnalysisTemplate]) {
        self.target = target
        self.steps = steps
        self.templates = templates
    }

    /// A problem in a `rollout:` mapping.
    public struct Issue: Sendable, Hashable {
        /// The field, e.g. `steps[2].setWeight` or `analysisTemplates.errors.count`; empty for the
        /// mapping itself.
        public var field: String
        /// The step the problem is in, for line numbers.
        public var step: Int?
        /// What is wrong, as a sentence fragment after the field.
        public var message: String
    }

    /// Reads a `rollout:` mapping as the spec reader keeps it.
    ///
    /// - Returns: the spec, or every problem found.
    public static func read(_ value: JSONValue?) -> Result<RolloutSpec, RolloutSpecIssues> {
        guard case .object(let fields) = value else {
            return .failure(
                RolloutSpecIssues(issues: [
                    Issue(field: "", message: "is required for kind 'rollout': {target, steps, analysisTemplates}")
                ]))
        }
        var issues: [Issue] = []
        for key in fields.keys.sorted() where !["target", "steps", "analysisTemplates"].contains(key) {
            issues.append(Issue(field: key, message: "unknown field (allowed: analysisTemplates, steps, target)"))
        }
        var target = Target.rayServe
        if case .string(let text) = fields["target"], let value = Target(rawValue: text) {
            target = value
        } else {
            let targets = Target.allCases.map(\.rawValue).joined(separator: ", ")
            issues.append(Issue(field: "target", message: "must be one of \(targets)"))
        }
        var templates = AnalysisTemplate.builtIn
        if let templatesValue = fields["analysisTemplates"] {
            if case .object(let defined) = templatesValue {
                for name in defined.keys.sorted() {
                    switch AnalysisTemplate.read(name: name, defined[name]) {
                    case .success(let template): templates[name] = template
                    case .failure(let problems):
                        issues += problems.issues.map {
                            Issue(
                                field: "analysisTemplates.\(name)\($0.field.isEmpty ? "" : ".")\($0.field)",
                                message: $0.message)
                        }
                    }
                }
            } else {
                issues.append(Issue(field: "analysisTemplates", message: "must be a mapping of name to template"))
            }
        }
        var steps: [Step] = []
        if case .array(let items) = fields["steps"], !items.isEmpty, items.count <= maxSteps {
            for (index, item) in items.enumerated() {
                switch readStep(item, templates: templates) {
                case .success(let step): steps.append(step)
                case .failure(let problem):
                    issues.append(Issue(field: "steps[\(index)]", step: index, message: problem.message))
                }
            }
        } else {
            issues.append(Issue(field: "steps", message: "must be a list of 1 to \(maxSteps) steps"))
        }
        guard issues.isEmpty else { return .failure(RolloutSpecIssues(issues: issues)) }
        return .success(RolloutSpec(target: target, steps: steps, templates: templates))
    }

    private struct StepProblem: Error {
        var message: String
    }

    private static func readStep(_ value: JSONValue, templates: [String: AnalysisTemplate]) -> Result<
        Step, StepProblem
    > {
        let shape = "must be one of {setWeight: 0-100}, {pause: <duration>}, {analysis: {template: <name>}}"
        guard case .object(let fields) = value, fields.count == 1, let (key, body) = fields.first else {
            return .failure(StepProblem(message: shape))
        }
        switch key {
        case "setWeight":
            guard let number = body.numberValue, number == number.rounded(), (0...100).contains(number) else {
                return .failure(StepProblem(message: "setWeight must be an integer from 0 to 100"))
            }
            return .success(.setWeight(Int(number)))
        case "pause":
            guard case .string(let text) = body, let duration = DurationParsing.parse(text) else {
                return .failure(StepProblem(message: "pause must be a duration such as 30s or 5m"))
            }
            return .success(.pause(duration))
        case "analysis":
            guard case .object(let analysis) = body, analysis.count == 1, case .string(let name) = analysis["template"]
            else {
                return .failure(StepProblem(message: "analysis must be {template: <name>}"))
            }
            guard templates[name] != nil else {
                let known = templates.keys.sorted().joined(separator: ", ")
                return .failure(
                    StepProblem(
                        message: "analysis template '\(name)' is neither in analysisTemplates nor built in "
                            + "(known: \(known))"))
            }
            return .success(.analysis(template: name))
        default:
            return .failure(StepProblem(message: shape))
        }
    }
}

extension RolloutSpec {
    /// The `register` stages upstream of `stage`, directly or transitively, by name. A valid
    /// `rollout` stage has exactly one: the version it registers in the run is the candidate.
    public static func registerStages(upstreamOf stage: String, in spec: PipelineSpec) -> [String] {
        spec.graph.upstream(of: stage).filter { spec.stage(named: $0)?.kind == .register }.sorted()
    }
}

/// The problems of a `rollout:` mapping.
public struct RolloutSpecIssues: Error, Sendable, Hashable {
    /// Every problem found, in field order.
    public var issues: [RolloutSpec.Issue]
}
