extension Expression {
    /// The expression in canonical form: single spaces around operators, parentheses only
    /// where precedence needs them. Parsing the text gives the same expression (up to columns).
    public var text: String { text(atLeast: 0) }

    /// Binding strength, loosest first, as `ExpressionParser` reads it.
    private var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .not: 3
        case .compare: 4
        case .coalesce: 5
        case .arithmetic(.add, _, _, _), .arithmetic(.subtract, _, _, _): 6
        case .arithmetic: 7
        case .negate: 8
        case .literal, .reference, .has: 9
        }
    }

    private func text(atLeast minimum: Int) -> String {
        let body =
            switch self {
            case .literal(let value, _): value.description
            case .reference(let path, _): path.joined(separator: ".")
            case .has(let path, _): "has(\(path.joined(separator: ".")))"
            case .not(let inner, _): "!" + inner.text(atLeast: 3)
            case .negate(let inner, _): "-" + inner.text(atLeast: 9)
            case .and(let lhs, let rhs): "\(lhs.text(atLeast: 2)) && \(rhs.text(atLeast: 3))"
            case .or(let lhs, let rhs): "\(lhs.text(atLeast: 1)) || \(rhs.text(atLeast: 2))"
            case .compare(let op, let lhs, let rhs, _):
                "\(lhs.text(atLeast: 5)) \(op.rawValue) \(rhs.text(atLeast: 5))"
            case .arithmetic(let op, let lhs, let rhs, _):
                op == .add || op == .subtract
                    ? "\(lhs.text(atLeast: 6)) \(op.rawValue) \(rhs.text(atLeast: 7))"
                    : "\(lhs.text(atLeast: 7)) \(op.rawValue) \(rhs.text(atLeast: 8))"
            case .coalesce(let lhs, let rhs, _):
                // Arithmetic next to `??` is always parenthesised (the parser refuses it bare).
                "\(lhs.text(atLeast: lhs.precedence == 5 ? 5 : 9)) ?? \(rhs.text(atLeast: 9))"
            }
        return precedence < minimum ? "(\(body))" : body
    }
}
