extension Expression {
    /// Why an expression that evaluated to `false` is false: the clauses that decided it, each
    /// with the values it saw, e.g. `stages.evaluate.metrics.accuracy >= 0.85: 0.62 >= 0.85 is false`.
    ///
    /// For `a && b` that is the first false side; for `a || b`, both sides.
    ///
    /// - Parameter lookup: the same lookup the expression was evaluated with.
    /// - Returns: an empty list when the expression is not false.
    /// - Throws: `ExpressionError` as `evaluate(_:)` does.
    public func failedClauses(_ lookup: ([String]) -> JSONValue?) throws(ExpressionError) -> [String] {
        guard try evaluated(lookup) == .value(.bool(false)) else { return [] }
        switch self {
        case .and(let lhs, let rhs):
            let left = try lhs.failedClauses(lookup)
            return left.isEmpty ? try rhs.failedClauses(lookup) : left
        case .or(let lhs, let rhs):
            // A side that only asks has(...) is a guard; the other side says why the condition failed.
            let left = try lhs.failedClauses(lookup)
            let right = try rhs.failedClauses(lookup)
            if lhs.isGuard, !right.isEmpty { return right }
            if rhs.isGuard, !left.isEmpty { return left }
            return left + right
        case .not(let inner, _):
            return ["\(text): \(inner.text) is true"]
        case .compare(let op, let lhs, let rhs, _):
            return ["\(text): \(try lhs.shown(lookup)) \(op.rawValue) \(try rhs.shown(lookup)) is false"]
        case .coalesce(let lhs, let rhs, _):
            guard case .missing(let path, _) = try lhs.evaluated(lookup) else { return try lhs.failedClauses(lookup) }
            return try rhs.failedClauses(lookup).map { "\($0) ('\(path.joined(separator: "."))' has no value)" }
        case .has(let path, _):
            return ["\(text) is false: '\(path.joined(separator: "."))' has no value"]
        case .literal, .reference, .negate, .arithmetic:
            return ["\(text) is false"]
        }
    }

    /// Whether the expression only asks whether values exist (`has`, combined with `!`, `&&`, `||`).
    private var isGuard: Bool {
        switch self {
        case .has: true
        case .not(let inner, _): inner.isGuard
        case .and(let lhs, let rhs), .or(let lhs, let rhs): lhs.isGuard && rhs.isGuard
        default: false
        }
    }

    /// The value as a clause shows it.
    private func shown(_ lookup: ([String]) -> JSONValue?) throws(ExpressionError) -> String {
        switch try evaluated(lookup) {
        case .value(let value): value.description
        case .missing(let path, _): "('\(path.joined(separator: "."))' has no value)"
        }
    }
}
