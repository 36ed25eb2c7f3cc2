extension Expression {
    /// The value of a sub-expression: a value, or missing because a reference it needs has none.
    enum Evaluated: Sendable, Hashable {
        case value(JSONValue)
        case missing(path: [String], column: Int)
    }

    /// Evaluates the expression to a boolean.
    ///
    /// - Parameter lookup: resolves a reference path to its value, or `nil` when it is missing.
    /// - Throws: `ExpressionError` when the result is missing (a reference has no value and no
    ///   `??` supplies one), when operand types do not fit, or on division by zero.
    public func evaluate(_ lookup: ([String]) -> JSONValue?) throws(ExpressionError) -> Bool {
        switch try evaluated(lookup) {
        case .missing(let path, let column):
            throw ExpressionError(column: column, message: "'\(path.joined(separator: "."))' has no value")
        case .value(.bool(let result)):
            return result
        case .value(let value):
            throw ExpressionError(column: column, message: "expression yields \(value.description), not true or false")
        }
    }

    func evaluated(_ lookup: ([String]) -> JSONValue?) throws(ExpressionError) -> Evaluated {
        switch self {
        case .literal(let value, _):
            return .value(value)
        case .reference(let path, let column):
            return lookup(path).map(Evaluated.value) ?? .missing(path: path, column: column)
        case .has(let path, _):
            return .value(.bool(lookup(path) != nil))
        case .not(let inner, _):
            let value = try inner.evaluated(lookup)
            guard let bool = try inner.boolean(value, operator: "!") else { return value }
            return .value(.bool(!bool))
        case .and(let lhs, let rhs):
            let left = try lhs.evaluated(lookup)
            guard let bool = try lhs.boolean(left, operator: "&&") else { return left }
            guard bool else { return .value(.bool(false)) }
            let right = try rhs.evaluated(lookup)
            return try rhs.boolean(right, operator: "&&").map { .value(.bool($0)) } ?? right
        case .or(let lhs, let rhs):
            let left = try lhs.evaluated(lookup)
            guard let bool = try lhs.boolean(left, operator: "||") else { return left }
            if bool { return .value(.bool(true)) }
            let right = try rhs.evaluated(lookup)
            return try rhs.boolean(right, operator: "||").map { .value(.bool($0)) } ?? right
        case .compare(let op, let lhs, let rhs, let column):
            let left = try lhs.evaluated(lookup)
            guard case .value(let leftValue) = left else { return left }
            let right = try rhs.evaluated(lookup)
            guard case .value(let rightValue) = right else { return right }
            return .value(.bool(try Self.compare(op, leftValue, rightValue, column: column)))
        case .arithmetic(let op, let lhs, let rhs, let column):
            let left = try lhs.evaluated(lookup)
            guard let leftNumber = try lhs.number(left, operator: op.rawValue) else { return left }
            let right = try rhs.evaluated(lookup)
            guard let rightNumber = try rhs.number(right, operator: op.rawValue) else { return right }
            return .value(try Self.arithmetic(op, leftNumber, rightNumber, column: column))
        case .negate(let inner, let column):
            let value = try inner.evaluated(lookup)
            guard let number = try inner.number(value, operator: "-") else { return value }
            return .value(try Self.arithmetic(.subtract, .int(0), number, column: column))
        case .coalesce(let lhs, let rhs, _):
            let left = try lhs.evaluated(lookup)
            if case .missing = left { return try rhs.evaluated(lookup) }
            return left
        }
    }

    /// The boolean in an evaluated operand of this expression, `nil` when it is missing.
    private func boolean(_ value: Evaluated, operator op: String) throws(ExpressionError) -> Bool? {
        switch value {
        case .missing: return nil
        case .value(.bool(let bool)): return bool
        case .value(let other):
            throw ExpressionError(column: column, message: "'\(op)' needs true or false, not \(other.description)")
        }
    }

    /// The number (`.int` or `.double`) in an evaluated operand of this expression, `nil` when it is missing.
    private func number(_ value: Evaluated, operator op: String) throws(ExpressionError) -> JSONValue? {
        switch value {
        case .missing: return nil
        case .value(let number) where number.numberValue != nil: return number
        case .value(let other):
            throw ExpressionError(column: column, message: "'\(op)' needs numbers, not \(other.description)")
        }
    }

    static func compare(
        _ op: ComparisonOperator, _ lhs: JSONValue, _ rhs: JSONValue, column: Int
    ) throws(ExpressionError) -> Bool {
        if let left = lhs.numberValue, let right = rhs.numberValue { return op.holds(left, right) }
        if case .string(let left) = lhs, case .string(let right) = rhs { return op.holds(left, right) }
        switch op {
        case .equal: return lhs == rhs
        case .notEqual: return lhs != rhs
        default:
            throw ExpressionError(
                column: column, message: "cannot order \(lhs.description) and \(rhs.description) with \(op.rawValue)")
        }
    }

    /// Integers stay integers (overflow is an error) except through `/`; anything else is a double.
    private static func arithmetic(
        _ op: ArithmeticOperator, _ lhs: JSONValue, _ rhs: JSONValue, column: Int
    ) throws(ExpressionError) -> JSONValue {
        if case .int(let left) = lhs, case .int(let right) = rhs, op != .divide {
            let (result, overflow) =
                switch op {
                case .add: left.addingReportingOverflow(right)
                case .subtract: left.subtractingReportingOverflow(right)
                case .multiply, .divide: left.multipliedReportingOverflow(by: right)
                }
            guard !overflow else {
                throw ExpressionError(column: column, message: "\(left) \(op.rawValue) \(right) overflows")
            }
            return .int(result)
        }
        let left = lhs.numberValue ?? .nan
        let right = rhs.numberValue ?? .nan
        if op == .divide, right == 0 {
            throw ExpressionError(column: column, message: "division by zero (\(lhs.description) / \(rhs.description))")
        }
        let result =
            switch op {
            case .add: left + right
            case .subtract: left - right
            case .multiply: left * right
            case .divide: left / right
            }
        guard result.isFinite else {
            throw ExpressionError(
                column: column, message: "\(lhs.description) \(op.rawValue) \(rhs.description) is not a finite number")
        }
        return .double(result)
    }
}
