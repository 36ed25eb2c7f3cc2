extension Expression {
    /// References under `root` (e.g. `["champion"]`) that the expression reads without saying
    /// what happens when they are missing.
    ///
    /// A reference is guarded when it sits on the left of `??`, inside `has(...)`, or on the
    /// right of `&&` / `||` behind a left side that proves it present: `has(champion) && ...`,
    /// `!has(champion) || ...` (also through nested `&&`, `||` and `!`).
    public func unguardedReferences(under root: [String]) -> [(path: [String], column: Int)] {
        unguarded(under: root, guarded: [])
    }

    private func unguarded(under root: [String], guarded: [[String]]) -> [(path: [String], column: Int)] {
        switch self {
        case .literal, .has:
            return []
        case .reference(let path, let column):
            let isGuarded = guarded.contains { path.starts(with: $0) }
            return path.starts(with: root) && !isGuarded ? [(path, column)] : []
        case .not(let inner, _), .negate(let inner, _):
            return inner.unguarded(under: root, guarded: guarded)
        case .and(let lhs, let rhs):
            return lhs.unguarded(under: root, guarded: guarded)
                + rhs.unguarded(under: root, guarded: guarded + lhs.presentWhen(true))
        case .or(let lhs, let rhs):
            return lhs.unguarded(under: root, guarded: guarded)
                + rhs.unguarded(under: root, guarded: guarded + lhs.presentWhen(false))
        case .compare(_, let lhs, let rhs, _), .arithmetic(_, let lhs, let rhs, _):
            return lhs.unguarded(under: root, guarded: guarded) + rhs.unguarded(under: root, guarded: guarded)
        case .coalesce(_, let rhs, _):
            return rhs.unguarded(under: root, guarded: guarded)
        }
    }

    /// Paths that certainly have a value when the expression evaluates to `outcome`.
    private func presentWhen(_ outcome: Bool) -> [[String]] {
        switch self {
        case .has(let path, _):
            return outcome ? [path] : []
        case .not(let inner, _):
            return inner.presentWhen(!outcome)
        case .and(let lhs, let rhs), .or(let lhs, let rhs):
            // `a && b` true (or `a || b` false): both sides had that outcome. Otherwise either may have.
            let isAnd = if case .and = self { true } else { false }
            let left = lhs.presentWhen(outcome)
            let right = rhs.presentWhen(outcome)
            return isAnd == outcome ? left + right : left.filter { right.contains($0) }
        default:
            return []
        }
    }
}
