import ArgumentParser
import BatonCore
import BatonEngine
import BatonObservability
import BatonS3
import BatonStore
import Foundation
import Logging

/// Connection and logging settings shared by every subcommand.
///
/// Each option falls back to a `BATON_*` environment variable, then to a default; this is the
/// one place where the environment is read.
public struct GlobalOptions: ParsableArguments, Sendable {
    /// PostgreSQL URL; see ``resolvedDatabaseURL()``.
    @Option(help: "PostgreSQL URL, postgres://user:password@host:port/db (env BATON_DATABASE_URL).")
    public var databaseURL: String?

    /// Kafka bootstrap servers; see ``resolvedBrokers()``.
    @Option(help: "Kafka bootstrap servers, comma-separated (env BATON_KAFKA_BROKERS).")
    public var brokers: String?

    /// librdkafka `key=value` properties; see ``resolvedKafkaProperties()``.
    @Option(
        name: .customLong("kafka-property"),
        help:
            "librdkafka property key=value for SASL/TLS and tuning; repeatable (env BATON_KAFKA_PROPERTIES, comma-separated)."
    )
    public var kafkaProperties: [String] = []

    /// The topic name prefix; see ``topics()``.
    @Option(help: "Topic name prefix (env BATON_TOPIC_PREFIX; default baton).")
    public var topicPrefix: String?

    /// The swift-log level; see ``bootstrapLogging(defaultLevel:)``.
    @Option(
        help:
            "Log level: trace, debug, info, notice, warning, error (env BATON_LOG_LEVEL; default info for serve, warning otherwise)."
    )
    public var logLevel: String?

    /// Every option unset: each falls back to its variable, then its default.
    public init() {}

    /// The process environment, read once.
    public static let environment = ProcessInfo.processInfo.environment

    /// Who acts, for audit records: `--actor`, else `$USER`; at most 200 bytes.
    ///
    /// - Parameter action: what the actor does, for the error, e.g. "moves the alias".
    /// - Throws: `ValidationError` when neither is set or the name is too long.
    public static func actor(_ flag: String?, _ action: String) throws -> String {
        let actor = (flag ?? environment["USER"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !actor.isEmpty, actor.utf8.count <= 200 else {
            throw ValidationError("set --actor (or $USER) to who \(action), at most 200 bytes")
        }
        return actor
    }

    /// A run id given on the command line.
    public static func runID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw ValidationError("'\(text.prefix(64))' is not a run id") }
        return id
    }

    /// `--database-url`, else `BATON_DATABASE_URL`.
    public func resolvedDatabaseURL() throws -> String {
        guard let url = databaseURL ?? Self.environment["BATON_DATABASE_URL"] else {
            throw ValidationError("set --database-url or BATON_DATABASE_URL (scripts/stack env prints it)")
        }
        return url
    }

    /// `--brokers`, else `BATON_KAFKA_BROKERS`, split at commas.
    public func resolvedBrokers() throws -> [String] {
        guard let brokers = brokers ?? Self.environment["BATON_KAFKA_BROKERS"] else {
            throw ValidationError("set --brokers or BATON_KAFKA_BROKERS (scripts/stack env prints it)")
        }
        return brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `BATON_KAFKA_PROPERTIES`, then each `--kafka-property` (a later key wins).
    public func resolvedKafkaProperties() throws -> [String: String] {
        let fromEnvironment =
            Self.environment["BATON_KAFKA_PROPERTIES"].map { $0.split(separator: ",").map(String.init) } ?? []
        var properties: [String: String] = [:]
        for pair in fromEnvironment + kafkaProperties {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("Kafka property '\(pair.prefix(40))' must be key=value")
            }
            properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return properties
    }

    /// The topic names under `--topic-prefix`, else `BATON_TOPIC_PREFIX`, else `baton`.
    public func topics() -> EventTopics {
        EventTopics(prefix: topicPrefix ?? Self.environment["BATON_TOPIC_PREFIX"] ?? "baton")
    }

    /// The engine's settings that every role shares: brokers, topics, Kafka properties, where
    /// artifacts and job code live. `serve` adds its own and the platforms'.
    public func engineConfiguration() throws -> EngineConfiguration {
        var configuration = EngineConfiguration(brokers: try resolvedBrokers())
        configuration.topics = topics()
        configuration.kafkaProperties = try resolvedKafkaProperties()
        configuration.groupPrefix = topicPrefix ?? Self.environment["BATON_TOPIC_PREFIX"] ?? "baton"
        if let root = Self.environment["BATON_ARTIFACT_ROOT"] { configuration.artifactRoot = root }
        configuration.artifactPresence = artifactPresence()
        if let root = Self.environment["BATON_JOBS_ROOT"] { configuration.jobsRoot = URL(filePath: root) }
        if let roots = Self.environment["BATON_DATA_ROOTS"] {
            configuration.dataRoots = try roots.split(separator: ",").map { root in
                let path = root.trimmingCharacters(in: .whitespaces)
                guard path.hasPrefix("/") else {
                    throw ValidationError("BATON_DATA_ROOTS must list absolute folders, not '\(path.prefix(80))'")
                }
                return URL(filePath: path)
            }
        }
        if let file = Self.environment["BATON_SPEC_POLICY"], !file.isEmpty {
            let yaml: String
            do {
                yaml = try String(contentsOf: URL(filePath: file), encoding: .utf8)
            } catch {
                throw ValidationError("BATON_SPEC_POLICY names '\(file.prefix(200))', which cannot be read: \(error)")
            }
            do {
                configuration.specRules = try SpecPolicy.load(yaml: yaml, paths: configuration.pathPolicy)
            } catch {
                throw ValidationError("BATON_SPEC_POLICY (\(file.prefix(200))): \(error.message)")
            }
        }
        return configuration
    }

    /// How the cache checks that outputs are still there: `file://` paths, and `s3://` objects in
    /// the store the standard AWS variables describe (`AWS_ENDPOINT_URL_S3`, `AWS_REGION`, the
    /// access key or web identity).
    public func artifactPresence() -> ArtifactPresenceChecks {
        let s3 = S3Client(
            configuration: S3Configuration(environment: Self.environment), logger: Logger(label: "baton.s3"))
        return ArtifactPresenceChecks([FileArtifactPresence(), S3ArtifactPresence(client: s3)])
    }

    /// A spec file's text, refused unread when it is larger than a spec may be.
    public static func readSpecFile(_ path: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes[.size] as? Int, size > SpecLimits.maxBytes {
            throw ValidationError("\(path) is \(size) bytes; specs are limited to \(SpecLimits.maxBytes)")
        }
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    /// Sets up swift-log once for the process: `key=value` text on standard error, or one JSON
    /// object per line with `BATON_LOG_FORMAT=json` (``JSONLogHandler``).
    ///
    /// - Parameter defaultLevel: the level when neither flag nor environment sets one; one-shot
    ///   commands keep the terminal quiet with `warning`, `serve` logs at `info`.
    public func bootstrapLogging(defaultLevel: Logger.Level = .warning) {
        let configured = logLevel ?? Self.environment["BATON_LOG_LEVEL"]
        let level = configured.flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        let format = Self.environment["BATON_LOG_FORMAT"] ?? "text"
        LoggingSystem.bootstrap { label in
            if format == "json" {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        if !["text", "json"].contains(format) {
            Logger(label: "baton").warning(
                "BATON_LOG_FORMAT='\(format.prefix(40))' is neither text nor json; logging text")
        }
    }
}
