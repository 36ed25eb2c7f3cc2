import BatonCore

/// The store's errors.
public enum StoreErrorDomain: ServiceErrorDomain {}

/// An error from Baton's PostgreSQL store.
public typealias StoreError = ServiceError<StoreErrorDomain>

extension ServiceErrorCode where Domain == StoreErrorDomain {
    /// A setting (a database URL, a name) is missing or invalid.
    public static var invalidConfiguration: Self { Self(rawValue: "invalid_configuration") }
    /// A migration failed; it was rolled back whole.
    public static var migrationFailed: Self { Self(rawValue: "migration_failed") }
    /// An applied migration's file was edited since.
    public static var migrationChanged: Self { Self(rawValue: "migration_changed") }
    /// The database's schema is behind what this build needs (`baton migrate` was not run).
    public static var schemaBehind: Self { Self(rawValue: "schema_behind") }
    /// No such run, stage, model or artifact.
    public static var notFound: Self { Self(rawValue: "not_found") }
    /// The change conflicts with what is stored (a name taken, a key reused with other content).
    public static var conflict: Self { Self(rawValue: "conflict") }
    /// A lock another holder kept was not free within the wait; retriable.
    public static var lockBusy: Self { Self(rawValue: "lock_busy") }
    /// The database session ended before the transaction committed (nothing was committed); retriable.
    public static var connectionLost: Self { Self(rawValue: "connection_lost") }
}

extension ServiceError where Domain == StoreErrorDomain {
    static func invalidConfiguration(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidConfiguration, reason, isRetriable: false, file: file, line: line)
    }

    static func migrationFailed(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.migrationFailed, reason, isRetriable: false, file: file, line: line)
    }

    static func migrationChanged(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.migrationChanged, reason, isRetriable: false, file: file, line: line)
    }

    static func lockBusy(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.lockBusy, reason, isRetriable: true, file: file, line: line)
    }

    static func connectionLost(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.connectionLost, reason, isRetriable: true, file: file, line: line)
    }

    static func schemaBehind(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.schemaBehind, reason, isRetriable: false, file: file, line: line)
    }

    static func notFound(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.notFound, reason, isRetriable: false, file: file, line: line)
    }

    static func conflict(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.conflict, reason, isRetriable: false, file: file, line: line)
    }
}
