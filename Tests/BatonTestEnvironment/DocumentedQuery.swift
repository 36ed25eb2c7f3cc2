import Foundation

/// The SQL blocks of `docs/`, so tests run the queries exactly as users read them.
public enum DocumentedQuery {
    public struct Missing: Error, CustomStringConvertible {
        public var marker: String
        public var description: String { "no ```sql block after <!-- tested: \(marker) --> in docs/lineage.md" }
    }

    /// The SQL block after `<!-- tested: <marker> -->` in `docs/lineage.md`, without its final
    /// semicolon, with psql's `:'run_id'` turned into the bind `$1`.
    public static func lineage(_ marker: String) throws -> String {
        let markdown = try String(
            contentsOf: TestStack.repositoryRoot.appending(path: "docs/lineage.md"), encoding: .utf8)
        guard let block = markdown.components(separatedBy: "<!-- tested: \(marker) -->").dropFirst().first,
            let sql = block.components(separatedBy: "```sql\n").dropFirst().first?.components(separatedBy: "```").first
        else { throw Missing(marker: marker) }
        return sql.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: [";"])
            .replacingOccurrences(of: ":'run_id'", with: "$1")
    }
}
