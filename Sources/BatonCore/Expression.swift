/// A parsed boolean expression, as written in a stage's `when` (and later in gates).
///
/// The language is small on purpose: numbers, strings, `true`/`false`/`null`, dotted
/// references such as `params.profile`, comparisons (`== != < <= > >=`), `&&`, `||`, `!`
/// and parentheses. A reference to a value that is missing is an error at evaluation, never
/// a silent `false`.
public indirect enum Expression: Sendable, Hashable {
    case literal(JSONValue)
    case reference(path: [String], column: Int)
    case not(Expression)
    case and(Expression, Expression)
    case or(Expression, Expression)
    case compare(ComparisonOperator, Expression, Expression, column: Int)

    /// A comparison operator.
    public enum ComparisonOperator: String, Sendable, Hashable {
        case equal = "=="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="

        /// Whether `lhs <op> rhs` holds for two values of one ordered type.
        func holds<T: Comparable>(_ lhs: T, _ rhs: T) -> Bool {
            switch self {
            case .equal: lhs == rhs
            case .notEqual: lhs != rhs
            case .less: lhs < rhs
            case .lessOrEqual: lhs <= rhs
            case .greater: lhs > rhs
            case .greaterOrEqual: lhs >= rhs
            }
        }
    }

    /// Every reference path in the expression, in source order, with its column.
    public var references: [(path: [String], column: Int)] {
        switch self {
        case .literal: []
        case .reference(let path, let column): [(path, column)]
        case .not(let inner): inner.references
        case .and(let lhs, let rhs), .or(let lhs, let rhs), .compare(_, let lhs, let rhs, _):
            lhs.references + rhs.references
        }
    }

    /// Parses expression text.
    ///
    /// - Throws: `ExpressionError` with the 1-based column of the problem.
    public static func parse(_ text: String) throws(ExpressionError) -> Expression {
        var parser = ExpressionParser(text: text)
        return try parser.parseAll()
    }

    /// Evaluates the expression to a boolean.
    ///
    /// - Parameter lookup: resolves a reference path to its value, or `nil` when it is missing.
    /// - Throws: `ExpressionError` when a reference is missing or operand types do not fit.
    public func evaluate(_ lookup: ([String]) -> JSONValue?) throws(ExpressionError) -> Bool {
        let value = try value(lookup)
        guard case .bool(let result) = value else {
            throw ExpressionError(column: 1, message: "expression yields \(value.description), not true or false")
        }
        return result
    }

    private func value(_ lookup: ([String]) -> JSONValue?) throws(ExpressionError) -> JSONValue {
        switch self {
        case .literal(let value):
            return value
        case .reference(let path, let column):
            guard let value = lookup(path) else {
                throw ExpressionError(column: column, message: "'\(path.joined(separator: "."))' has no value")
            }
            return value
        case .not(let inner):
            return .bool(!(try inner.boolean(lookup)))
        case .and(let lhs, let rhs):
            guard try lhs.boolean(lookup) else { return .bool(false) }
            return .bool(try rhs.boolean(lookup))
        case .or(let lhs, let rhs):
            if try lhs.boolean(lookup) { return .bool(true) }
            return .bool(try rhs.boolean(lookup))
        case .compare(let op, let lhs, let rhs, let column):
            return .bool(try Self.compare(op, lhs.value(lookup), rhs.value(lookup), column: column))
        }
    }

    private func boolean(_ lookup: ([String]) -> JSONValue?) throws(ExpressionError) -> Bool {
        let value = try value(lookup)
        guard case .bool(let result) = value else {
            throw ExpressionError(column: 1, message: "\(value.description) is not true or false")
        }
        return result
    }

    private static func compare(
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
}

/// A syntax or evaluation error in an expression, pointing at a 1-based column.
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 1-based column in the expression text.
    public var column: Int
    /// What is wrong, in a sentence.
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}
