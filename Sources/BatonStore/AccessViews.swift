import BatonCore
import Foundation

/// An API token as `baton tokens list` shows it: never its secret.
public struct APITokenView: Sendable, Hashable, Codable {
    /// The token's id.
    public var id: UUID
    /// A unique name among live tokens, e.g. `ci`.
    public var name: String
    /// What it may do.
    public var scopes: [APIScope]
    /// Who made it.
    public var createdBy: String
    /// When it was made.
    public var createdAt: Date
    /// When it stops working; nil for never.
    public var expiresAt: Date?
    /// When it was revoked; nil while live.
    public var revokedAt: Date?
    /// When it was last used, to the minute; nil if never.
    public var lastUsedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, scopes
        case createdBy = "created_by"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case revokedAt = "revoked_at"
        case lastUsedAt = "last_used_at"
    }
}

/// The identity behind a request: a token, an OIDC subject, or an operator at the command line.
public struct Caller: Sendable, Hashable {
    /// How it appears in audit rows and as `requested_by`: `token:<name>`, `oidc:<subject>`, `cli:<user>`.
    public var name: String
    /// The token's id, for token callers.
    public var tokenID: UUID?
    /// What it may do.
    public var scopes: Set<APIScope>

    public init(name: String, tokenID: UUID? = nil, scopes: Set<APIScope>) {
        self.name = name
        self.tokenID = tokenID
        self.scopes = scopes
    }

    /// Whether the caller holds `scope` (or `admin`).
    public func may(_ scope: APIScope) -> Bool { scopes.contains { $0.grants(scope) } }
}

/// One row of the audit log.
public struct AuditEntry: Sendable, Hashable, Codable {
    /// Its position in the log.
    public var id: Int64
    /// When it happened.
    public var at: Date
    /// Who: ``Caller/name``.
    public var actor: String
    /// What, e.g. `runs.submit`, `runs.cancel`, `tokens.create`.
    public var action: String
    /// On what, e.g. a run id.
    public var target: String?
    /// How it ended, e.g. `accepted`, `refused`.
    public var outcome: String
    /// Details, such as the reason of a refusal.
    public var detail: [String: JSONValue]

    enum CodingKeys: String, CodingKey {
        case id, at, actor, action, target, outcome, detail
    }
}
