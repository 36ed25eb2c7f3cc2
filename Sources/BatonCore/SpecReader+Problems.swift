import Yams

extension SpecReader {
    // MARK: - Problems and the budget

    /// Records a problem; past ``SpecLimits/maxKeptIssues`` it is only counted (and its text
    /// never built).
    mutating func issue(
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
    mutating func charge(_ count: Int, at node: Node) -> Bool {
        guard overBudget == nil else { return false }
        guard budget.takeNodes(count) else {
            overBudget = SpecError.Issue(
                line: node.mark?.line, path: "", message: "the spec " + YAMLValueBudget.nodesProblem)
            return false
        }
        return true
    }

    // MARK: - JSON values

    /// The JSON value of a node, spending the spec's budget; a problem in it (a non-finite
    /// number, a NUL, a non-string key, too deep) becomes an issue naming its full path, and the
    /// value `null`.
    mutating func json(_ node: Node, path: String) -> JSONValue {
        value(node, path: path) ?? .null
    }

    /// The JSON value of a node, or nil when it has a problem (recorded as ``json(_:path:)`` does).
    mutating func value(_ node: Node, path: String) -> JSONValue? {
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
}
