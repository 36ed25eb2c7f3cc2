import BatonCore
import Foundation

/// A version a `register` attempt registered (or found registered by an earlier attempt of the
/// same run's stage).
public struct Registration: Sendable, Hashable {
    public var model: String
    public var version: Int
    public var artifactURI: String
    public var artifactMD5: String?
    /// The alias move the registration made; `nil` when the alias already pointed there, or the
    /// version was made earlier.
    public var move: ModelPromoted?
    /// Whether this attempt made the version (`false`: an earlier attempt of the run's stage did).
    public var isNew: Bool
}

/// How a `register` attempt ended.
public enum RegistrationOutcome: Sendable, Hashable {
    /// The attempt succeeded with this version.
    case registered(Registration)
    /// The artifact to register does not exist (the upstream stage has no succeeded attempt with
    /// that output); nothing was written.
    case missingArtifact(String)
    /// The lease was lost; nothing was written.
    case fencedOut
}

/// A registered model as `baton models list` shows it.
public struct ModelSummary: Sendable, Hashable, Codable {
    public var name: String
    public var latestVersion: Int
    /// Alias -> version.
    public var aliases: [String: Int]
    public var createdAt: Date
    public var updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case name, aliases
        case latestVersion = "latest_version"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// A model version with where it came from, as `baton models show` lists it.
public struct ModelVersionView: Sendable, Hashable, Codable {
    public var version: Int
    public var runId: String
    public var stage: String
    public var attemptId: String
    public var artifactId: Int64
    public var artifactUri: String
    public var artifactMd5: String?
    /// Upstream stage -> metric key -> last value, as registered.
    public var metrics: [String: [String: Double]]
    /// The aliases pointing at this version.
    public var aliases: [String]
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case version, stage, metrics, aliases
        case runId = "run_id"
        case attemptId = "attempt_id"
        case artifactId = "artifact_id"
        case artifactUri = "artifact_uri"
        case artifactMd5 = "artifact_md5"
        case createdAt = "created_at"
    }
}

/// One audited alias move.
public struct ModelAliasEvent: Sendable, Hashable, Codable {
    public var alias: String
    public var fromVersion: Int?
    public var toVersion: Int?
    public var move: ModelAliasMove
    public var actor: String
    public var reason: String?
    public var runId: String?
    public var movedAt: Date

    enum CodingKeys: String, CodingKey {
        case alias, move, actor, reason
        case fromVersion = "from_version"
        case toVersion = "to_version"
        case runId = "run_id"
        case movedAt = "moved_at"
    }
}

/// A registered model with its versions, aliases and the audit log of alias moves.
public struct ModelView: Sendable, Hashable, Codable {
    public var name: String
    public var createdAt: Date
    /// Alias -> version.
    public var aliases: [String: Int]
    /// Newest first.
    public var versions: [ModelVersionView]
    /// Every alias move, newest first.
    public var aliasEvents: [ModelAliasEvent]

    enum CodingKeys: String, CodingKey {
        case name, aliases, versions
        case createdAt = "created_at"
        case aliasEvents = "alias_events"
    }
}
