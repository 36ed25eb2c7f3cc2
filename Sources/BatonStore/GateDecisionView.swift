import BatonCore
import Foundation

/// A gate's decision, as `baton runs show` lists it with the attempt that made it.
public struct GateDecisionView: Sendable, Hashable, Codable {
    /// The gate's condition as written in the spec.
    public var condition: String
    /// Whether the condition held.
    public var passed: Bool
    /// Every reference of the condition -> the value it had (`null` when it had none).
    public var observed: [String: JSONValue]
    /// For a rejection: the clauses that made the condition false, with their values.
    public var failedClause: String?
    /// The model whose champion the condition read, and that champion's version.
    public var model: String?
    /// The champion's version; nil when the model had no champion or the condition read none.
    public var championVersion: Int?
    /// When the gate decided.
    public var decidedAt: Date

    enum CodingKeys: String, CodingKey {
        case condition, passed, observed, model
        case failedClause = "failed_clause"
        case championVersion = "champion_version"
        case decidedAt = "decided_at"
    }
}
