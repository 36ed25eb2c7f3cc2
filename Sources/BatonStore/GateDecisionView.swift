import BatonCore
import Foundation

/// A gate's decision, as `baton runs show` lists it with the attempt that made it.
public struct GateDecisionView: Sendable, Hashable, Codable {
    public var condition: String
    public var passed: Bool
    /// Every reference of the condition -> the value it had (`null` when it had none).
    public var observed: [String: JSONValue]
    /// For a rejection: the clauses that made the condition false, with their values.
    public var failedClause: String?
    /// The model whose champion the condition read, and that champion's version.
    public var model: String?
    public var championVersion: Int?
    public var decidedAt: Date

    enum CodingKeys: String, CodingKey {
        case condition, passed, observed, model
        case failedClause = "failed_clause"
        case championVersion = "champion_version"
        case decidedAt = "decided_at"
    }
}
