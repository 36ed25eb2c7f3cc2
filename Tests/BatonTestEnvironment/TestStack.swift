import Foundation
import Logging

/// The local stack's addresses, from the variables `scripts/stack env` prints.
///
/// Integration tests never skip: a missing variable is a failure that says how to fix it.
public enum TestStack {
    /// A variable the stack sets is missing: the message says how to set it.
    public struct MissingEnvironment: Error, CustomStringConvertible {
        /// The variable's name.
        public var variable: String
        public var description: String {
            "\(variable) is not set: run `scripts/stack up` and `eval \"$(scripts/stack env)\"` (make test does both)"
        }
    }

    /// The value of `name`, or ``MissingEnvironment``.
    public static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingEnvironment(variable: name)
        }
        return value
    }

    /// `BATON_DATABASE_URL`.
    public static func databaseURL() throws -> String { try variable("BATON_DATABASE_URL") }
    /// `BATON_KAFKA_BROKERS`, split at commas.
    public static func brokers() throws -> [String] {
        try variable("BATON_KAFKA_BROKERS").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The repository root (where `migrations/`, `examples/` and `.build/` are).
    public static let repositoryRoot = URL(filePath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The `baton` executable under test: `BATON_BIN`, or the debug build in this clone.
    public static var batonBinary: URL {
        ProcessInfo.processInfo.environment["BATON_BIN"].map { URL(filePath: $0) }
            ?? repositoryRoot.appending(path: ".build/debug/baton")
    }

    /// The SQL migrations.
    public static var migrations: URL { repositoryRoot.appending(path: "migrations") }

    /// A short random name suffix.
    public static func uniqueSuffix() -> String {
        String(UUID().uuidString.lowercased().prefix(8))
    }

    /// A quiet logger for tests.
    public static let logger: Logger = {
        var logger = Logger(label: "baton.tests")
        logger.logLevel = .warning
        return logger
    }()
}
