import Foundation

/// What an API token or an OIDC identity may do. `admin` includes every other scope.
public enum APIScope: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Read runs, their events and logs, pipelines, models, lineage.
    case runsRead = "runs:read"
    /// Request runs (and retries).
    case runsSubmit = "runs:submit"
    /// Cancel runs.
    case runsCancel = "runs:cancel"
    /// Move model aliases (promote, roll back).
    case modelsPromote = "models:promote"
    /// Everything, including dead letters and pipeline definitions.
    case admin

    /// Whether holding `self` grants `needed`.
    public func grants(_ needed: APIScope) -> Bool { self == needed || self == .admin }

    public static func < (lhs: APIScope, rhs: APIScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Scopes from a comma-separated list such as `runs:submit,runs:read`.
    ///
    /// - Throws: ``UnknownScope`` naming the first word that is not a scope.
    public static func parseList(_ text: some StringProtocol) throws(UnknownScope) -> Set<APIScope> {
        var scopes: Set<APIScope> = []
        for word in text.split(separator: ",") {
            let name = word.trimmingCharacters(in: .whitespaces)
            guard let scope = APIScope(rawValue: name) else { throw UnknownScope(name: String(name.prefix(40))) }
            scopes.insert(scope)
        }
        return scopes
    }

    /// A word that names no scope.
    public struct UnknownScope: Error, CustomStringConvertible {
        /// The word, cut to 40 characters.
        public let name: String
        public var description: String {
            "unknown scope '\(name)'; scopes are \(APIScope.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}
