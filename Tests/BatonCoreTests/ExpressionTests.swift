import BatonCore
import Testing

@Suite("Expressions")
struct ExpressionTests {
    let values: [String: JSONValue] = [
        "params.accuracy": .double(0.91), "params.profile": .string("tiny"), "params.fast": .bool(true),
        "params.epochs": .int(3),
    ]

    func evaluate(_ text: String) throws -> Bool {
        try Expression.parse(text).evaluate { values[$0.joined(separator: ".")] }
    }

    @Test("Comparisons, boolean operators, precedence and parentheses")
    func semantics() throws {
        #expect(try evaluate("params.accuracy >= 0.85"))
        #expect(try evaluate("params.accuracy >= 0.85 && params.profile == 'tiny'"))
        #expect(try !evaluate("params.epochs > 3 || !params.fast"))
        #expect(try evaluate("!(params.epochs < 3) && (params.fast || false)"))
        #expect(try evaluate("params.epochs == 3.0"))
        #expect(try evaluate("true || params.missing"))
    }

    @Test("A missing value is an error, not false")
    func missingIsExplicit() {
        let error = #expect(throws: ExpressionError.self) { try evaluate("params.missing > 1") }
        #expect(error?.description == "column 1: 'params.missing' has no value")
    }

    @Test("Syntax errors point at the column")
    func syntaxColumns() {
        for (text, column) in [("params.a >= ", 13), ("(params.a", 10), ("params.a = 1", 10), ("1 2", 3)] {
            let error = #expect(throws: ExpressionError.self) { try Expression.parse(text) }
            #expect(error?.column == column, "\(text)")
        }
    }

    @Test("Ordering values of different types is an error")
    func typeErrors() {
        #expect(throws: ExpressionError.self) { try evaluate("params.profile > 1") }
    }
}
