import BatonCore
import Foundation

/// A version a `register` attempt registered (or found registered by an earlier attempt of the
/// same run's stage).
public struct Registration: Sendable, Hashable {
    /// The registered model's name.
    public var model: String
    /// The version's number, from 1 per model.
    public var version: Int
    /// Where the registered artifact is.
    public var artifactURI: String
    /// MD5 of the registered artifact; nil when the job reported none.
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
    /// The registered model's name.
    public var name: String
    /// The model's newest version number.
    public var latestVersion: Int
    /// Alias -> version.
    public var aliases: [String: Int]
    /// When the model was first registered.
    public var createdAt: Date
    /// When an alias of the model last moved; nil if none ever did.
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
    /// The version's number, from 1 per model.
    public var version: Int
    /// The run whose `register` stage made the version.
    public var runId: String
    /// The `register` stage's name.
    public var stage: String
    /// The `register` attempt that made the version.
    public var attemptId: String
    /// The registered artifact's id in the lineage tables.
    public var artifactId: Int64
    /// Where the registered artifact is.
    public var artifactUri: String
    /// MD5 of the registered artifact; nil when the job reported none.
    public var artifactMd5: String?
    /// Upstream stage -> metric key -> last value, as registered.
    public var metrics: [String: [String: Double]]
    /// The aliases pointing at this version.
    public var aliases: [String]
    /// When the version was registered.
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
    /// The alias that moved, e.g. `champion`.
    public var alias: String
    /// Where the alias pointed before; nil when it was new.
    public var fromVersion: Int?
    /// Where it pointed after; nil when a rollback removed it.
    public var toVersion: Int?
    /// What kind of move it was.
    public var move: ModelAliasMove
    /// Who moved it: `baton/<run id>` for the engine, a user name for the CLI.
    public var actor: String
    /// Why the alias moved, as the actor gave it; nil when none was given.
    public var reason: String?
    /// The run that moved it, for moves made by the engine; nil otherwise.
    public var runId: String?
    /// When the alias moved.
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
    /// The registered model's name.
    public var name: String
    /// When the model was first registered.
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

/// One recorded step of a canary rollout, as the console draws traffic weight over time.
public struct RolloutStepView: Sendable, Hashable, Codable {
    /// The version being rolled out.
    public var candidateVersion: Int
    /// The version it replaces; nil for a first rollout.
    public var stableVersion: Int?
    /// The run whose rollout stage made the step.
    public var runId: String
    /// The step's position in the rollout.
    public var stepIndex: Int
    /// `setWeight`, `pause` or `analysis`.
    public var kind: String
    /// The candidate's traffic weight after the step.
    public var weight: Int
    /// `succeeded` or `failed`.
    public var phase: String
    /// An analysis step's measurements.
    public var measurements: [String: JSONValue]
    /// What the driver said.
    public var message: String?
    /// When the step was recorded.
    public var recordedAt: Date

    enum CodingKeys: String, CodingKey {
        case kind, weight, phase, measurements, message
        case candidateVersion = "candidate_version"
        case stableVersion = "stable_version"
        case runId = "run_id"
        case stepIndex = "step_index"
        case recordedAt = "recorded_at"
    }
}
