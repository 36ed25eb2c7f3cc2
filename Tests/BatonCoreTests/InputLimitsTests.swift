import BatonCore
import Foundation
import Testing

/// Specs and requests are bounded before they cost anything: alias bombs, non-finite numbers,
/// deep nesting and floods of problems are refused with a short, readable reason.
@Suite("Input limits")
struct InputLimitsTests {
    static func spec(params: String = "", stage: String = "{name: a, kind: noop}") -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: bounded}
        params: {\(params)}
        stages:
          - \(stage)
        """
    }

    func specError(_ yaml: String) -> SpecError? {
        do {
            _ = try PipelineSpecParser.parse(yaml)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Aliases

    @Test("A 9-level 10x alias chain under a param default is refused within 1 s, naming the limit")
    func aliasBomb() throws {
        var lines = ["    default:", "      l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1..<9 {
            let uses = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            lines.append("      l\(level): &l\(level) [\(uses)]")
        }
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: bomb}
            params:
              p:
                type: object
            \(lines.joined(separator: "\n"))
            stages:
              - {name: a, kind: noop}
            """
        #expect(yaml.utf8.count < 1024)
        let clock = ContinuousClock()
        var error: SpecError?
        let elapsed = clock.measure { error = specError(yaml) }
        let refused = try #require(error)
        #expect(elapsed < .seconds(1), "took \(elapsed)")
        #expect(refused.issues.count == 1)
        #expect(refused.description.contains("more than \(SpecLimits.maxNodes) YAML nodes"), "\(refused)")
        #expect(refused.issues.first?.path.hasPrefix("params.p.default.l") == true, "\(refused)")
    }

    @Test("An alias used many times past the byte budget is refused, though its node count is small")
    func aliasTextBomb() {
        let text = String(repeating: "y", count: 60_000)
        let uses = Array(repeating: "*t", count: 12).joined(separator: ", ")
        let yaml = Self.spec(stage: "{name: a, kind: noop, params: {t: &t \"\(text)\", u: [\(uses)]}}")
        let error = specError(yaml)
        #expect(error?.description.contains("bytes of text") == true, "\(String(describing: error).prefix(300))")
    }

    @Test("Ordinary aliases still read as their anchors' values")
    func ordinaryAliases() throws {
        let yaml = Self.spec(
            stage: "{name: a, kind: noop, params: {env: &env {lr: 0.1, tags: [x, y]}, again: *env}}")
        let spec = try PipelineSpecParser.parse(yaml)
        #expect(spec.stage(named: "a")?.params["again"] == spec.stage(named: "a")?.params["env"])
    }

    // MARK: - Non-finite numbers

    @Test(
        "Non-finite numbers are refused wherever a spec holds a number, naming the field",
        arguments: [
            (
                "limit: {type: number, default: .inf}", "{name: a, kind: noop}",
                "params.limit.default: .inf is not a finite number; JSON cannot carry it"
            ),
            (
                "limit: {type: number, default: -.inf}", "{name: a, kind: noop}",
                "params.limit.default: -.inf is not a finite number"
            ),
            (
                "limit: {type: number, enum: [1, .nan]}", "{name: a, kind: noop}",
                "params.limit.enum[1]: .nan is not a finite number"
            ),
            ("", "{name: a, kind: noop, params: {lr: .NaN}}", "stages[0] (a).params.lr: .NaN is not a finite number"),
            (
                "", "{name: a, kind: noop, params: {opt: {betas: [0.9, .inf]}}}",
                "stages[0] (a).params.opt.betas[1]: .inf is not a finite number"
            ),
            (
                "", "{name: a, kind: noop, params: {big: 1e400}}",
                "stages[0] (a).params.big: 1e400 is not a finite number"
            ),
            (
                "", "{name: a, ray: {entrypoint: x, resources: {cpus: .inf}}}",
                "stages[0] (a).ray.resources.cpus: .inf is not a finite number"
            ),
            (
                "", "{name: a, ray: {entrypoint: x, runtime_env: {env_vars: {n: .inf}}}}",
                "stages[0] (a).ray.runtime_env.env_vars.n: .inf"
            ),
            (
                "", "{name: a, kind: gate, gate: {condition: \"true\", threshold: .inf}}",
                "stages[0] (a).gate.threshold: .inf is not a finite number"
            ),
        ])
    func nonFinite(params: String, stage: String, expected: String) {
        let error = specError(Self.spec(params: params, stage: stage))
        let problems = error?.issues.map(\.description) ?? []
        #expect(problems.contains { $0.contains(expected) }, "\(problems)")
    }

    @Test("A quoted '.inf' is a string, not a number")
    func quotedInfinity() throws {
        let spec = try PipelineSpecParser.parse(Self.spec(stage: "{name: a, kind: noop, params: {x: \".inf\"}}"))
        #expect(spec.stage(named: "a")?.params["x"] == .string(".inf"))
    }

    @Test("A number param given as nan, inf or 1e400 text, or as a non-finite value, is refused")
    func nonFiniteParams() {
        let declared = ["limit": ParamSpec(type: .number)]
        for text in ["nan", "inf", "-inf", "infinity", "1e400"] {
            #expect(throws: ParamResolver.ParamError.self, "\(text)") {
                try ParamResolver.resolve(["limit": .string(text)], declared: declared)
            }
        }
        let error = #expect(throws: ParamResolver.ParamError.self) {
            try ParamResolver.resolve(["limit": .double(.infinity)], declared: declared)
        }
        #expect(
            error?.message.contains("is not a finite number; JSON cannot carry it") == true,
            "\(String(describing: error))")
        #expect((try? ParamResolver.resolve(["limit": .string("2.5")], declared: declared)) == ["limit": .double(2.5)])
    }

    // MARK: - Problem lists

    @Test("10,000 unknown keys give a capped problem list and a reason under 4 KiB")
    func manyProblems() throws {
        let keys = (0..<10_000).map { "k\($0): 1" }.joined(separator: ", ")
        let error = try #require(specError(Self.spec(stage: "{name: a, kind: noop, \(keys)}")))
        #expect(error.problemCount == 10_000)
        #expect(error.issues.count <= SpecLimits.maxKeptIssues)
        let reason = error.description
        #expect(reason.utf8.count <= RequestLimits.maxReasonBytes, "\(reason.utf8.count) bytes")
        #expect(reason.hasPrefix("invalid pipeline spec (10000 problems): "))
        #expect(reason.contains("unknown field"))
        #expect(reason.range(of: #"… and \d+ more$"#, options: .regularExpression) != nil, "\(reason.suffix(80))")
    }

    @Test("A problem quoting a 100 KB name is cut; the reason stays bounded")
    func longProblem() throws {
        let name = String(repeating: "k", count: 100_000)
        let error = try #require(specError(Self.spec(stage: "{name: \(name), kind: noop, extra: 1}")))
        #expect(error.problemCount == 2, "\(error)")
        #expect(error.issues.allSatisfy { $0.description.utf8.count <= SpecLimits.maxIssueBytes * 2 })
        #expect(error.description.utf8.count <= RequestLimits.maxReasonBytes)
        #expect(error.description.contains("100000 bytes in all"))
    }

    @Test("A value nested deeper than 64 levels is refused, naming the limit")
    func deepNesting() {
        let deep = String(repeating: "[", count: 70) + "1" + String(repeating: "]", count: 70)
        let error = specError(Self.spec(stage: "{name: a, kind: noop, params: {deep: \(deep)}}"))
        let problems = error?.issues.map(\.description) ?? []
        #expect(
            problems.contains { $0.contains("stages[0] (a).params.deep[0][0]") && $0.contains("the limit is 64") },
            "\(problems)")
        let fine = String(repeating: "[", count: 40) + "1" + String(repeating: "]", count: 40)
        #expect(specError(Self.spec(stage: "{name: a, kind: noop, params: {deep: \(fine)}}")) == nil)
    }

    @Test("More params than the limit are refused")
    func tooManyDeclaredParams() {
        let params = (0...SpecLimits.maxParams).map { "p\($0): {type: integer, default: 1}" }.joined(separator: ", ")
        let error = specError(Self.spec(params: params))
        #expect(error?.description.contains("the limit is \(SpecLimits.maxParams)") == true)
    }

    @Test("A NUL character in a value is refused: PostgreSQL cannot store it")
    func nulCharacter() {
        let error = specError(Self.spec(stage: #"{name: a, kind: noop, params: {x: "a\0b"}}"#))
        #expect(error?.description.contains("stages[0] (a).params.x: contains a NUL character") == true)
    }

    // MARK: - Requests

    @Test("Oversize request fields are named with their limit, quoting at most an excerpt")
    func requestViolations() {
        let cases: [(PipelineRequested, String)] = [
            (
                PipelineRequested(pipeline: String(repeating: "p", count: 1 << 20)),
                "pipeline is 1048576 bytes; the limit is 63"
            ),
            (PipelineRequested(pipeline: "Bad Name"), "pipeline 'Bad Name' is not a pipeline name"),
            (
                PipelineRequested(pipeline: "ok", idempotencyKey: String(repeating: "k", count: 3000)),
                "idempotency_key is 3000 bytes; the limit is 256"
            ),
            (
                PipelineRequested(pipeline: "ok", requestedBy: String(repeating: "u", count: 300)),
                "requested_by is 300 bytes; the limit is 256"
            ),
            (
                PipelineRequested(retryOf: UUID(), retryFrom: String(repeating: "s", count: 100)),
                "retry_from is 100 bytes; the limit is 63"
            ),
            (
                PipelineRequested(spec: String(repeating: "#", count: SpecLimits.maxBytes + 1)),
                "spec is \(SpecLimits.maxBytes + 1) bytes; the limit is \(SpecLimits.maxBytes)"
            ),
            (
                PipelineRequested(
                    pipeline: "ok", labels: Dictionary(uniqueKeysWithValues: (0...64).map { ("l\($0)", "v") })),
                "labels has 65 entries; the limit is 64"
            ),
            (
                PipelineRequested(pipeline: "ok", labels: [String(repeating: "k", count: 64): "v"]),
                "is 64 bytes; the limit is 63"
            ),
            (
                PipelineRequested(pipeline: "ok", labels: ["team": String(repeating: "v", count: 257)]),
                "labels.team is 257 bytes; the limit is 256"
            ),
            (
                PipelineRequested(
                    pipeline: "ok",
                    params: Dictionary(uniqueKeysWithValues: (0...256).map { ("p\($0)", JSONValue.int(1)) })),
                "params has 257 entries; the limit is 256"
            ),
            (
                PipelineRequested(pipeline: "ok", params: ["blob": .string(String(repeating: "b", count: 70_000))]),
                "; the limit is 65536"
            ),
            (
                PipelineRequested(pipeline: "ok", params: ["x": .array([.double(.nan)])]),
                "params.x[0]: nan is not a finite"
            ),
            (PipelineRequested(pipeline: "ok", params: ["x": .string("a\u{0}b")]), "params.x contains a NUL"),
            (
                PipelineRequested(pipeline: "ok", params: ["x": Self.nested(70)]),
                "nests more than 64 levels deep; the limit is 64"
            ),
        ]
        for (request, expected) in cases {
            let violation = RequestLimits.violation(in: request)
            #expect(violation?.contains(expected) == true, "\(String(describing: violation)) !~ \(expected)")
            #expect((violation?.utf8.count ?? 0) <= 300)
        }
        #expect(RequestLimits.violation(in: PipelineRequested(pipeline: "ok", params: ["x": .double(0.5)])) == nil)
    }

    static func nested(_ depth: Int) -> JSONValue {
        (0..<depth).reduce(JSONValue.int(1)) { value, _ in .array([value]) }
    }

    @Test("A quoted value is at most 100 bytes and a reason at most 4 KiB, neither holding a NUL")
    func quotedText() {
        let quoted = RequestLimits.quoted(String(repeating: "x", count: 1 << 20))
        #expect(quoted.hasPrefix(String(repeating: "x", count: 100) + "…"))
        #expect(quoted.contains("1048576 bytes"))
        #expect(quoted.utf8.count < 150)
        #expect(RequestLimits.quoted("a\u{0}b") == "a\\u{00}b")
        let reason = RequestLimits.boundedReason(String(repeating: "é", count: 5000) + "\u{0}")
        #expect(reason.utf8.count <= RequestLimits.maxReasonBytes)
        #expect(!reason.utf8.contains(0))
    }
}
