/// The static type of an expression, as spec validation infers it from literals, declared
/// param types and the kinds of reference (metrics are numbers).
public enum ExpressionType: String, Sendable, Hashable {
    case number, string, boolean, null
    /// Not known before the run (an `object` or `array` param, the `champion` record).
    case any

    /// The type of a param's values.
    public init(_ param: ParamType) {
        self =
            switch param {
            case .integer, .number: .number
            case .string: .string
            case .boolean: .boolean
            case .object, .array: .any
            }
    }

    init(_ value: JSONValue) {
        self =
            switch value {
            case .int, .double: .number
            case .string: .string
            case .bool: .boolean
            case .null: .null
            case .array, .object: .any
            }
    }

    /// Whether a value of this type may stand where `expected` is needed.
    func fits(_ expected: ExpressionType) -> Bool { self == expected || self == .any }

    /// `a number`, `a string`, ... for messages.
    var phrase: String {
        switch self {
        case .number: "a number"
        case .string: "a string"
        case .boolean: "true or false"
        case .null: "null"
        case .any: "any value"
        }
    }
}

extension Expression {
    /// Checks that every operator gets operands of types it accepts, without evaluating.
    ///
    /// Arithmetic and unary `-` need numbers; `!`, `&&`, `||` need booleans; `< <= > >=` need
    /// two numbers or two strings; the two sides of `??` must have one type. `==` and `!=`
    /// accept any pair.
    ///
    /// - Parameter type: the type of a reference path.
    /// - Returns: the expression's type.
    /// - Throws: `ExpressionError` at the column of the operand that does not fit.
    public func typeCheck(_ type: ([String]) -> ExpressionType) throws(ExpressionError) -> ExpressionType {
        switch self {
        case .literal(let value, _):
            return ExpressionType(value)
        case .reference(let path, _):
            return type(path)
        case .has:
            return .boolean
        case .not(let inner, _):
            try inner.expect(.boolean, for: "!", type)
            return .boolean
        case .and(let lhs, let rhs), .or(let lhs, let rhs):
            let op = if case .and = self { "&&" } else { "||" }
            try lhs.expect(.boolean, for: op, type)
            try rhs.expect(.boolean, for: op, type)
            return .boolean
        case .negate(let inner, _):
            try inner.expect(.number, for: "-", type)
            return .number
        case .arithmetic(let op, let lhs, let rhs, _):
            try lhs.expect(.number, for: op.rawValue, type)
            try rhs.expect(.number, for: op.rawValue, type)
            return .number
        case .compare(let op, let lhs, let rhs, let column):
            let left = try lhs.typeCheck(type)
            let right = try rhs.typeCheck(type)
            guard op != .equal, op != .notEqual, left != .any, right != .any else { return .boolean }
            guard left == right, left == .number || left == .string else {
                throw ExpressionError(
                    column: column, message: "cannot order \(left.phrase) and \(right.phrase) with \(op.rawValue)")
            }
            return .boolean
        case .coalesce(let lhs, let rhs, let column):
            let left = try lhs.typeCheck(type)
            let right = try rhs.typeCheck(type)
            guard left == right || left == .any || right == .any || right == .null else {
                throw ExpressionError(
                    column: column, message: "the sides of '??' differ: \(left.phrase) and \(right.phrase)")
            }
            return left == .any ? right : left
        }
    }

    private func expect(
        _ expected: ExpressionType, for op: String, _ type: ([String]) -> ExpressionType
    ) throws(ExpressionError) {
        let actual = try typeCheck(type)
        guard actual.fits(expected) else {
            throw ExpressionError(column: column, message: "'\(op)' needs \(expected.phrase), not \(actual.phrase)")
        }
    }
}
