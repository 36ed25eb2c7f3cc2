/// A parsed expression, as written in a stage's `when` and in a gate's `condition`.
///
/// The language is small on purpose: numbers, strings, `true`/`false`/`null`, dotted
/// references such as `params.profile`, arithmetic on numbers (`+ - * /`, unary `-`),
/// comparisons (`== != < <= > >=`), `&&`, `||`, `!`, parentheses, and two explicit rules for
/// values that may be missing:
///
/// - `a ?? b` is `b` when `a` is missing, else `a`;
/// - `has(ref)` is `true` when the reference has a value (`has(champion)`: the model has one).
///
/// A missing value makes every expression that needs it missing; an expression that ends up
/// missing is an error at evaluation, never a silent `false`. Every node carries the 1-based
/// column where it starts (or, for operators, where the operator is), so errors point at it.
public indirect enum Expression: Sendable, Hashable {
    case literal(JSONValue, column: Int)
    case reference(path: [String], column: Int)
    /// `has(path)`: whether the reference has a value.
    case has(path: [String], column: Int)
    case not(Expression, column: Int)
    case negate(Expression, column: Int)
    case and(Expression, Expression)
    case or(Expression, Expression)
    case compare(ComparisonOperator, Expression, Expression, column: Int)
    case arithmetic(ArithmeticOperator, Expression, Expression, column: Int)
    /// `lhs ?? rhs`: `rhs` when `lhs` is missing.
    case coalesce(Expression, Expression, column: Int)

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

    /// An arithmetic operator on numbers.
    public enum ArithmeticOperator: String, Sendable, Hashable {
        case add = "+"
        case subtract = "-"
        case multiply = "*"
        case divide = "/"
    }

    /// The 1-based column where the expression's text starts.
    public var column: Int {
        switch self {
        case .literal(_, let column), .reference(_, let column), .has(_, let column), .not(_, let column),
            .negate(_, let column):
            column
        case .and(let lhs, _), .or(let lhs, _), .compare(_, let lhs, _, _), .arithmetic(_, let lhs, _, _),
            .coalesce(let lhs, _, _):
            lhs.column
        }
    }

    /// Every reference path in the expression (including those inside `has(...)`), in source
    /// order, with its column.
    public var references: [(path: [String], column: Int)] {
        switch self {
        case .literal: []
        case .reference(let path, let column), .has(let path, let column): [(path, column)]
        case .not(let inner, _), .negate(let inner, _): inner.references
        case .and(let lhs, let rhs), .or(let lhs, let rhs), .compare(_, let lhs, let rhs, _),
            .arithmetic(_, let lhs, let rhs, _), .coalesce(let lhs, let rhs, _):
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
}

/// A syntax, type or evaluation error in an expression, pointing at a 1-based column.
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 1-based column in the expression text.
    public var column: Int
    /// What is wrong, in a sentence.
    public var message: String

    /// An error at `column` (1-based) with the given message.
    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}
