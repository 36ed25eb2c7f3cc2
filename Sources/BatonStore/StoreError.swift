/// An error from Baton's PostgreSQL store.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// A class of store error; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public static let invalidConfiguration = Code(name: "invalid_configuration")
        public static let migrationFailed = Code(name: "migration_failed")
        public static let migrationChanged = Code(name: "migration_changed")
        public static let notFound = Code(name: "not_found")
        public static let database = Code(name: "database")
        public var description: String { name }
    }

    public var code: Code
    /// What happened and what to do, in a sentence.
    public var reason: String
    /// Whether trying again later may succeed (connection loss, serialization failure).
    public var isRetriable: Bool
    public var file: String
    public var line: Int

    public var description: String { "\(reason) [\(code)]" }

    static func invalidConfiguration(_ reason: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .invalidConfiguration, reason: reason, isRetriable: false, file: file, line: line)
    }

    static func migrationFailed(_ reason: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .migrationFailed, reason: reason, isRetriable: false, file: file, line: line)
    }

    static func migrationChanged(_ reason: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .migrationChanged, reason: reason, isRetriable: false, file: file, line: line)
    }

    static func notFound(_ reason: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .notFound, reason: reason, isRetriable: false, file: file, line: line)
    }
}
