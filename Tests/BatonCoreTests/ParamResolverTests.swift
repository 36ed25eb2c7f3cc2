import BatonCore
import Testing

@Suite("Param resolution")
struct ParamResolverTests {
    let declared: [String: ParamSpec] = [
        "epochs": ParamSpec(type: .integer, defaultValue: .int(1)),
        "lr": ParamSpec(type: .number, defaultValue: .double(0.1)),
        "profile": ParamSpec(
            type: .string, defaultValue: .string("tiny"), allowed: [.string("tiny"), .string("full")]),
        "dataset": ParamSpec(type: .string),
    ]

    @Test("Defaults fill in, strings from the command line become typed values")
    func typed() throws {
        let params = try ParamResolver.resolve(
            ["epochs": .string("3"), "dataset": .string("d.jsonl"), "lr": .int(1)], declared: declared)
        #expect(
            params == ["epochs": .int(3), "lr": .int(1), "profile": .string("tiny"), "dataset": .string("d.jsonl")])
    }

    @Test("Unknown, missing, mistyped and disallowed params are errors that say which")
    func errors() {
        let unknown = #expect(throws: ParamResolver.ParamError.self) {
            try ParamResolver.resolve(["dataset": .string("x"), "epoch": .int(1)], declared: declared)
        }
        #expect(unknown?.message.hasPrefix("unknown param 'epoch'") == true)
        let missing = #expect(throws: ParamResolver.ParamError.self) {
            try ParamResolver.resolve([:], declared: declared)
        }
        #expect(missing?.message.contains("'dataset' is required") == true)
        let mistyped = #expect(throws: ParamResolver.ParamError.self) {
            try ParamResolver.resolve(["dataset": .string("x"), "epochs": .string("two")], declared: declared)
        }
        #expect(mistyped?.message.contains("must be of type integer") == true)
        let disallowed = #expect(throws: ParamResolver.ParamError.self) {
            try ParamResolver.resolve(["dataset": .string("x"), "profile": .string("huge")], declared: declared)
        }
        #expect(disallowed?.message.contains("must be one of") == true)
    }
}
