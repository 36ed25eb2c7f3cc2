import Foundation

/// An analysis a rollout step runs, as Argo Rollouts' AnalysisTemplates do: every `interval`,
/// each metric's Prometheus query is measured and its success condition checked; the analysis
/// fails as soon as more than `failureLimit` measurements failed, and passes after `count`
/// measurements otherwise. A measurement that could not be taken (no data yet, Prometheus
/// unreachable) is an error, not a failure: it is taken again one interval later, and the
/// analysis fails only after more than `consecutiveErrorLimit` errors in a row.
public struct AnalysisTemplate: Sendable, Hashable {
    /// One measured query.
    public struct Metric: Sendable, Hashable {
        /// The measurement's name, e.g. `success-rate`.
        public var name: String
        /// A PromQL query returning one number; may use `{{model}}`, `{{candidate.version}}`,
        /// `{{stable.version}}`.
        public var query: String
        /// What the number must satisfy.
        public var condition: AnalysisCondition

        /// A metric with the given name, query and success condition.
        public init(name: String, query: String, condition: AnalysisCondition) {
            self.name = name
            self.query = query
            self.condition = condition
        }
    }

    /// The placeholders a query may use.
    public static let placeholders: Set<String> = ["model", "candidate.version", "stable.version"]
    /// The longest query accepted, in characters.
    public static let maxQueryLength = 2000

    /// The template's name, as rollout steps refer to it.
    public var name: String
    /// Time between measurements. Default: 10 s.
    public var interval: Duration
    /// Measurements taken. Default: 3.
    public var count: Int
    /// Failed measurements tolerated. Default: 0.
    public var failureLimit: Int
    /// Errors in a row tolerated (no data, Prometheus unreachable). Default: 4 (Argo's).
    public var consecutiveErrorLimit: Int
    /// The queries measured each interval; every one must satisfy its condition.
    public var metrics: [Metric]

    /// A template with the given fields; the defaults are Argo's.
    public init(
        name: String, interval: Duration = .seconds(10), count: Int = 3, failureLimit: Int = 0,
        consecutiveErrorLimit: Int = 4, metrics: [Metric]
    ) {
        self.name = name
        self.interval = interval
        self.count = count
        self.failureLimit = failureLimit
        self.consecutiveErrorLimit = consecutiveErrorLimit
        self.metrics = metrics
    }

    /// Templates every rollout may name without defining them. `success-and-latency` reads the
    /// canary router's metrics (`jobs/serve`): the candidate's success rate must be at least 0.95
    /// and its mean latency at most 2 s over the last 20 s (no request at all is no data: a failed
    /// measurement).
    public static let builtIn: [String: AnalysisTemplate] = [
        "success-and-latency": AnalysisTemplate(
            name: "success-and-latency", interval: .seconds(5), count: 3, failureLimit: 1,
            metrics: [
                Metric(
                    name: "success-rate",
                    query: """
                        (sum(rate(ray_baton_serve_requests_total{model="{{model}}",version="{{candidate.version}}",\
                        outcome="ok"}[20s])) or vector(0)) / sum(rate(ray_baton_serve_requests_total{model="{{model}}",\
                        version="{{candidate.version}}"}[20s]))
                        """,
                    condition: AnalysisCondition(comparison: .greaterOrEqual, threshold: 0.95)),
                Metric(
                    name: "latency-ms",
                    query: """
                        sum(rate(ray_baton_serve_latency_ms_sum{model="{{model}}",version="{{candidate.version}}"}[20s]))\
                         / sum(rate(ray_baton_serve_latency_ms_count{model="{{model}}",\
                        version="{{candidate.version}}"}[20s]))
                        """,
                    condition: AnalysisCondition(comparison: .lessOrEqual, threshold: 2000)),
            ])
    ]

    /// The query with its placeholders replaced (values are model names and version numbers).
    public static func render(_ query: String, model: String, candidateVersion: Int, stableVersion: Int?) -> String {
        query.replacing("{{model}}", with: model)
            .replacing("{{candidate.version}}", with: String(candidateVersion))
            .replacing("{{stable.version}}", with: stableVersion.map(String.init) ?? "")
    }

    /// A problem in a template: the field and what is wrong with it.
    public struct Issue: Sendable, Hashable {
        /// The field at fault, e.g. `metrics[0].query`; empty for the template as a whole.
        public var field: String
        /// What is wrong with the field.
        public var message: String
    }

    /// Reads a template of `analysisTemplates`.
    public static func read(name: String, _ value: JSONValue?) -> Result<AnalysisTemplate, AnalysisTemplateIssues> {
        guard case .object(let fields) = value else {
            return .failure(
                AnalysisTemplateIssues(issues: [
                    Issue(field: "", message: "must be {interval, count, failureLimit, metrics}")
                ]))
        }
        var issues: [Issue] = []
        let allowed = ["consecutiveErrorLimit", "count", "failureLimit", "interval", "metrics"]
        for key in fields.keys.sorted() where !allowed.contains(key) {
            issues.append(Issue(field: key, message: "unknown field (allowed: \(allowed.joined(separator: ", ")))"))
        }
        var template = AnalysisTemplate(name: name, metrics: [])
        if let value = fields["interval"] {
            if case .string(let text) = value, let duration = DurationParsing.parse(text), duration >= .seconds(1),
                duration <= .seconds(3600)
            {
                template.interval = duration
            } else {
                issues.append(Issue(field: "interval", message: "must be a duration from 1s to 1h"))
            }
        }
        if let value = fields["count"] {
            if let number = integer(value), (1...100).contains(number) {
                template.count = number
            } else {
                issues.append(Issue(field: "count", message: "must be an integer from 1 to 100"))
            }
        }
        if let value = fields["failureLimit"] {
            if let number = integer(value), number >= 0, number < template.count {
                template.failureLimit = number
            } else {
                issues.append(Issue(field: "failureLimit", message: "must be an integer from 0 to count - 1"))
            }
        }
        if let value = fields["consecutiveErrorLimit"] {
            if let number = integer(value), (0...100).contains(number) {
                template.consecutiveErrorLimit = number
            } else {
                issues.append(Issue(field: "consecutiveErrorLimit", message: "must be an integer from 0 to 100"))
            }
        }
        guard case .array(let items) = fields["metrics"], (1...10).contains(items.count) else {
            issues.append(Issue(field: "metrics", message: "must be a list of 1 to 10 {name, query, successCondition}"))
            return .failure(AnalysisTemplateIssues(issues: issues))
        }
        for (index, item) in items.enumerated() {
            let field = "metrics[\(index)]"
            guard case .object(let metric) = item, case .string(let metricName) = metric["name"], !metricName.isEmpty,
                metricName.count <= 64, case .string(let query) = metric["query"],
                case .string(let conditionText) = metric["successCondition"], metric.count == 3
            else {
                issues.append(Issue(field: field, message: "must be {name, query, successCondition}"))
                continue
            }
            if let problem = checkQuery(query) { issues.append(Issue(field: "\(field).query", message: problem)) }
            switch AnalysisCondition.parse(conditionText) {
            case .success(let condition):
                template.metrics.append(Metric(name: metricName, query: query, condition: condition))
            case .failure(let problem):
                issues.append(Issue(field: "\(field).successCondition", message: problem.message))
            }
        }
        return issues.isEmpty ? .success(template) : .failure(AnalysisTemplateIssues(issues: issues))
    }

    private static func integer(_ value: JSONValue) -> Int? {
        guard let number = value.numberValue, number == number.rounded(), abs(number) < 1e9 else { return nil }
        return Int(number)
    }

    /// Why a query is refused: empty, too long, or an unknown `{{placeholder}}`.
    private static func checkQuery(_ query: String) -> String? {
        guard !query.isEmpty, query.count <= maxQueryLength else {
            return "must be a PromQL query of 1 to \(maxQueryLength) characters"
        }
        var rest = Substring(query)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { return "has an unclosed '{{'" }
            let name = String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            guard placeholders.contains(name) else {
                return "uses '{{\(name)}}'; known: " + placeholders.sorted().map { "{{\($0)}}" }.joined(separator: ", ")
            }
            rest = rest[close.upperBound...]
        }
        return nil
    }
}

/// The problems of one analysis template.
public struct AnalysisTemplateIssues: Error, Sendable, Hashable {
    /// Every problem found in the template.
    public var issues: [AnalysisTemplate.Issue]
}
