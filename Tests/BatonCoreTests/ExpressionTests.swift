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

@Suite("Expressions: arithmetic, missing values, types")
struct ExpressionArithmeticTests {
    let values: [String: JSONValue] = [
        "m.acc": .double(0.9), "m.n": .int(7), "p.name": .string("tiny"), "p.on": .bool(true),
    ]

    func value(_ text: String) throws -> Bool {
        try Expression.parse(text).evaluate { values[$0.joined(separator: ".")] }
    }

    @Test("Arithmetic follows precedence; integers stay integers except through /")
    func arithmetic() throws {
        #expect(try value("m.n + 3 * 2 == 13"))
        #expect(try value("(m.n + 3) * 2 == 20"))
        #expect(try value("m.n / 2 == 3.5"))
        #expect(try value("-m.n + 10 == 3"))
        #expect(try value("m.acc - 0.01 > 0.88 && m.acc - 0.01 < 0.9"))
        #expect(try value("1 - -1 == 2"))
        // Names may contain '-' (stage names do), so subtraction from a name needs a space.
        let error = #expect(throws: ExpressionError.self) { try value("m.n-1 == 6") }
        #expect(error?.description == "column 1: 'm.n-1' has no value")
    }

    @Test("?? supplies a value only when the left side is missing; has() asks")
    func missingValues() throws {
        #expect(try value("m.acc >= champion.metrics.acc ?? 0"))
        #expect(try value("(champion.metrics.acc ?? 0.95) - 0.01 == 0.94"))
        #expect(try value("(m.acc >= champion.metrics.acc - 0.01) ?? true"))
        #expect(try value("m.n ?? 100 == 7"), "?? does not replace a present value")
        #expect(try value("!has(champion) || m.acc >= champion.metrics.acc"))
        #expect(try value("has(m.acc) && !has(m.nothing)"))
        #expect(try !value("false && missing.value"))
        let error = #expect(throws: ExpressionError.self) { try value("m.acc >= champion.metrics.acc - 0.01") }
        #expect(error?.description == "column 10: 'champion.metrics.acc' has no value")
    }

    @Test("Type errors name the column of the operand")
    func typeErrors() {
        let cases: [(String, String)] = [
            ("m.acc - p.name > 0", "column 9: '-' needs numbers, not \"tiny\""),
            ("p.on && m.n", "column 9: '&&' needs true or false, not 7"),
            ("m.n / 0 > 1", "column 5: division by zero (7 / 0)"),
            ("-p.name == 1", "column 2: '-' needs numbers, not \"tiny\""),
            ("m.n + 1", "column 1: expression yields 8, not true or false"),
        ]
        for (text, message) in cases {
            let error = #expect(throws: ExpressionError.self) { try value(text) }
            #expect(error?.description == message, "\(text)")
        }
    }

    @Test("Syntax: ?? next to bare arithmetic, has() without a reference, stray operators")
    func syntax() {
        let cases: [(String, Int)] = [
            ("a ?? b - 0.01 > 1", 3), ("a - 0.01 ?? b > 1", 10), ("has(1)", 5), ("a + ", 5), ("a * * b", 5),
            ("a ?? ", 6),
        ]
        for (text, column) in cases {
            let error = #expect(throws: ExpressionError.self) { try Expression.parse(text) }
            #expect(error?.column == column, "\(text): \(String(describing: error))")
        }
    }

    @Test("Static types: operands are checked without values, at the operand's column")
    func staticTypes() throws {
        let types: [String: ExpressionType] = ["m.acc": .number, "p.name": .string, "p.on": .boolean]
        func check(_ text: String) throws -> ExpressionType {
            try Expression.parse(text).typeCheck { types[$0.joined(separator: ".")] ?? .any }
        }
        #expect(try check("m.acc * 2 >= 1 && p.on") == .boolean)
        #expect(try check("m.acc ?? 0") == .number)
        let cases: [(String, String)] = [
            ("p.name + 1 > 0", "column 1: '+' needs a number, not a string"),
            ("p.on && m.acc", "column 9: '&&' needs true or false, not a number"),
            ("m.acc > p.name", "column 7: cannot order a number and a string with >"),
            ("m.acc ?? 'x'", "column 7: the sides of '??' differ: a number and a string"),
        ]
        for (text, message) in cases {
            let error = #expect(throws: ExpressionError.self) { try check(text) }
            #expect(error?.description == message, "\(text)")
        }
    }

    @Test("Canonical text re-parses to the same expression shape and keeps needed parentheses")
    func text() throws {
        for source in [
            "a.b >= (c.d ?? 0) - 0.01 && !(x || y)", "(a + b) * -c / 2 == 1", "!has(champion) || a > champion.m.k",
            "(a - 1) ?? b ?? 3 != 2",
        ] {
            let parsed = try Expression.parse(source)
            let again = try Expression.parse(parsed.text)
            #expect(again.text == parsed.text, "\(source) -> \(parsed.text)")
        }
        #expect(try Expression.parse("a.b>=(c.d??0)-0.01").text == "a.b >= (c.d ?? 0) - 0.01")
        #expect(try Expression.parse("(a + b) * c").text == "(a + b) * c")
    }

    @Test("A false condition names the clauses that decided it, with their values")
    func failedClauses() throws {
        func clauses(_ text: String) throws -> [String] {
            try Expression.parse(text).failedClauses { values[$0.joined(separator: ".")] }
        }
        #expect(try clauses("m.n > 1 && m.acc >= 0.95") == ["m.acc >= 0.95: 0.9 >= 0.95 is false"])
        #expect(
            try clauses("m.acc > 1 || m.n < 2") == ["m.acc > 1: 0.9 > 1 is false", "m.n < 2: 7 < 2 is false"])
        #expect(
            try clauses("m.acc >= (c.acc ?? 0.95) - 0.01") == ["m.acc >= (c.acc ?? 0.95) - 0.01: 0.9 >= 0.94 is false"])
        #expect(try clauses("has(champion)") == ["has(champion) is false: 'champion' has no value"])
        #expect(try clauses("!p.on") == ["!p.on: p.on is true"])
        #expect(try clauses("m.acc > 0.5").isEmpty)
    }

    @Test("Guards: champion reads need ?? or has(champion) on the path that reaches them")
    func guards() throws {
        func unguarded(_ text: String) throws -> [Int] {
            try Expression.parse(text).unguardedReferences(under: ["champion"]).map(\.column)
        }
        #expect(try unguarded("a >= champion.metrics.acc ?? 0").isEmpty)
        #expect(try unguarded("has(champion) && a >= champion.metrics.acc").isEmpty)
        #expect(try unguarded("!has(champion) || a >= champion.metrics.acc - 0.01").isEmpty)
        #expect(try unguarded("a > 1 && (!has(champion) || a >= champion.metrics.acc)").isEmpty)
        #expect(try unguarded("has(champion.metrics.acc) && a >= champion.metrics.acc").isEmpty)
        #expect(try unguarded("a >= champion.metrics.acc") == [6])
        #expect(try unguarded("has(champion) || a >= champion.metrics.acc") == [23])
        #expect(try unguarded("has(champion.metrics.loss) && a >= champion.metrics.acc") == [36])
        #expect(try unguarded("(has(champion) || a > 1) && b > champion.metrics.acc") == [33])
    }
}
