import BatonCore
import BatonStore
import Testing

/// The names written into statements that take no bind parameters.
@Suite("SQL identifiers")
struct SQLIdentifierTests {
    @Test("Lower-case letters, digits and _ up to 63 bytes are identifiers")
    func accepted() throws {
        #expect(try SQLIdentifier("baton_bench_lineage_0a1b2c3d").name == "baton_bench_lineage_0a1b2c3d")
        #expect(try SQLIdentifier("_x").name == "_x")
        #expect(try SQLIdentifier(String(repeating: "a", count: 63)).description.count == 63)
    }

    @Test("Quotes, spaces, upper case, a leading digit, empty and 64 bytes are refused with the rule")
    func refused() {
        for name in [
            "x; DROP DATABASE postgres", "a\"b", "Name", "1abc", "", String(repeating: "a", count: 64), "añ",
            "a-b",
        ] {
            let error = #expect(throws: StoreError.self) { try SQLIdentifier(name) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.reason.contains("[a-z_][a-z0-9_]{0,62}") == true, "\(name)")
        }
    }
}
