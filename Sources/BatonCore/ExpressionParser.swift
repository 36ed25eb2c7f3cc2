/// A recursive-descent parser for `Expression`.
///
/// Precedence, loosest first: `||`, `&&`, `!`, comparison, `??`, `+ -`, `* /`, unary `-`.
/// `??` next to arithmetic without parentheses is refused (`a ?? b - c` could mean either
/// `(a ?? b) - c` or `a ?? (b - c)`, and a gate must not depend on a guess).
struct ExpressionParser {
    private enum Token: Equatable {
        case number(JSONValue)
        case string(String)
        case identifier([String])
        case symbol(String)
        case end
    }

    private let characters: [Character]
    private var position = 0
    private var current: Token = .end
    private var currentColumn = 1

    init(text: String) {
        characters = Array(text)
    }

    mutating func parseAll() throws(ExpressionError) -> Expression {
        guard characters.count <= 4096 else {
            throw ExpressionError(column: 1, message: "expression is longer than 4096 characters")
        }
        try advance()
        if current == .end { throw ExpressionError(column: 1, message: "expression is empty") }
        let expression = try parseOr()
        guard current == .end else { throw unexpected() }
        return expression
    }

    // MARK: - Grammar

    private mutating func parseOr() throws(ExpressionError) -> Expression {
        var lhs = try parseAnd()
        while current == .symbol("||") {
            try advance()
            lhs = .or(lhs, try parseAnd())
        }
        return lhs
    }

    private mutating func parseAnd() throws(ExpressionError) -> Expression {
        var lhs = try parseNot()
        while current == .symbol("&&") {
            try advance()
            lhs = .and(lhs, try parseNot())
        }
        return lhs
    }

    private mutating func parseNot() throws(ExpressionError) -> Expression {
        if current == .symbol("!") {
            let column = currentColumn
            try advance()
            return .not(try parseNot(), column: column)
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(ExpressionError) -> Expression {
        let lhs = try parseCoalesce()
        if case .symbol(let symbol) = current, let op = Expression.ComparisonOperator(rawValue: symbol) {
            let column = currentColumn
            try advance()
            return .compare(op, lhs, try parseCoalesce(), column: column)
        }
        return lhs
    }

    private mutating func parseCoalesce() throws(ExpressionError) -> Expression {
        let first = try parseArithmetic(level: 0)
        var result = first.expression
        var isBare = first.isBareArithmetic
        while current == .symbol("??") {
            let column = currentColumn
            try advance()
            let next = try parseArithmetic(level: 0)
            guard !isBare, !next.isBareArithmetic else {
                throw ExpressionError(
                    column: column,
                    message: "'??' next to arithmetic needs parentheses: write (a ?? b) - c or (a - c) ?? b")
            }
            result = .coalesce(result, next.expression, column: column)
            isBare = false
        }
        return result
    }

    /// Arithmetic at one precedence level (0: `+ -`, 1: `* /`), and whether it is arithmetic
    /// outside parentheses.
    private mutating func parseArithmetic(level: Int) throws(ExpressionError) -> (
        expression: Expression, isBareArithmetic: Bool
    ) {
        let symbols = level == 0 ? ["+", "-"] : ["*", "/"]
        var (lhs, isBare) = level == 0 ? try parseArithmetic(level: 1) : try parseUnary()
        while case .symbol(let symbol) = current, symbols.contains(symbol),
            let op = Expression.ArithmeticOperator(rawValue: symbol)
        {
            let column = currentColumn
            try advance()
            let rhs = level == 0 ? try parseArithmetic(level: 1) : try parseUnary()
            lhs = .arithmetic(op, lhs, rhs.expression, column: column)
            isBare = true
        }
        return (lhs, isBare)
    }

    /// Unary minus; a negated number literal stays a literal.
    private mutating func parseUnary() throws(ExpressionError) -> (expression: Expression, isBareArithmetic: Bool) {
        guard current == .symbol("-") else { return (try parsePrimary(), false) }
        let column = currentColumn
        try advance()
        let operand = try parseUnary().expression
        switch operand {
        case .literal(.int(let value), _): return (.literal(.int(-value), column: column), false)
        case .literal(.double(let value), _): return (.literal(.double(-value), column: column), false)
        default: return (.negate(operand, column: column), true)
        }
    }

    private mutating func parsePrimary() throws(ExpressionError) -> Expression {
        let column = currentColumn
        switch current {
        case .number(let value):
            try advance()
            return .literal(value, column: column)
        case .string(let value):
            try advance()
            return .literal(.string(value), column: column)
        case .identifier(let path):
            try advance()
            if path.count == 1 {
                switch path[0] {
                case "true": return .literal(.bool(true), column: column)
                case "false": return .literal(.bool(false), column: column)
                case "null": return .literal(.null, column: column)
                case "has" where current == .symbol("("): return try parseHas(column: column)
                default: break
                }
            }
            return .reference(path: path, column: column)
        case .symbol("("):
            try advance()
            let inner = try parseOr()
            guard current == .symbol(")") else {
                throw ExpressionError(column: currentColumn, message: "expected ')'")
            }
            try advance()
            return inner
        default:
            throw unexpected()
        }
    }

    /// `has(reference)`, after the name `has`.
    private mutating func parseHas(column: Int) throws(ExpressionError) -> Expression {
        try advance()
        guard case .identifier(let path) = current else {
            throw ExpressionError(column: currentColumn, message: "has(...) takes a reference, e.g. has(champion)")
        }
        try advance()
        guard current == .symbol(")") else { throw ExpressionError(column: currentColumn, message: "expected ')'") }
        try advance()
        return .has(path: path, column: column)
    }

    private func unexpected() -> ExpressionError {
        switch current {
        case .end: ExpressionError(column: currentColumn, message: "unexpected end of expression")
        case .symbol(let symbol): ExpressionError(column: currentColumn, message: "unexpected '\(symbol)'")
        default: ExpressionError(column: currentColumn, message: "expected an operator")
        }
    }

    // MARK: - Lexer

    private mutating func advance() throws(ExpressionError) {
        while position < characters.count, characters[position].isWhitespace { position += 1 }
        currentColumn = position + 1
        guard position < characters.count else {
            current = .end
            return
        }
        let character = characters[position]
        if character.isASCII, character.isNumber {
            current = .number(try lexNumber())
        } else if character == "'" || character == "\"" {
            current = .string(try lexString(quote: character))
        } else if character.isLetter || character == "_" {
            current = .identifier(try lexPath())
        } else {
            let two = position + 1 < characters.count ? String(characters[position...position + 1]) : ""
            if ["==", "!=", "<=", ">=", "&&", "||", "??"].contains(two) {
                current = .symbol(two)
                position += 2
            } else if ["<", ">", "!", "(", ")", "+", "-", "*", "/"].contains(String(character)) {
                current = .symbol(String(character))
                position += 1
            } else {
                throw ExpressionError(column: currentColumn, message: "unexpected character '\(character)'")
            }
        }
    }

    private mutating func lexNumber() throws(ExpressionError) -> JSONValue {
        let start = position
        position += 1
        while position < characters.count,
            characters[position].isASCII,
            characters[position].isNumber || ".eE".contains(characters[position])
                || ("+-".contains(characters[position]) && "eE".contains(characters[position - 1]))
        {
            position += 1
        }
        let text = String(characters[start..<position])
        if let value = Int64(text) { return .int(value) }
        if let value = Double(text), value.isFinite { return .double(value) }
        throw ExpressionError(column: start + 1, message: "'\(text)' is not a number")
    }

    private mutating func lexString(quote: Character) throws(ExpressionError) -> String {
        let start = position
        position += 1
        var value = ""
        while position < characters.count, characters[position] != quote {
            value.append(characters[position])
            position += 1
        }
        guard position < characters.count else {
            throw ExpressionError(column: start + 1, message: "unterminated string")
        }
        position += 1
        return value
    }

    private mutating func lexPath() throws(ExpressionError) -> [String] {
        var path: [String] = []
        var segment = ""
        while position < characters.count {
            let character = characters[position]
            if character.isLetter || character.isNumber || character == "_" || character == "-" {
                segment.append(character)
            } else if character == "." {
                guard !segment.isEmpty else { break }
                path.append(segment)
                segment = ""
            } else {
                break
            }
            position += 1
        }
        guard !segment.isEmpty else {
            throw ExpressionError(column: position + 1, message: "a name must follow '.'")
        }
        path.append(segment)
        return path
    }
}
