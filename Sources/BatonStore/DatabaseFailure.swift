import BatonCore
import PostgresNIO
import _ConnectionPoolModule

/// Classifies errors from PostgreSQL calls into transient infrastructure faults and failures
/// caused by what was being written.
public enum DatabaseFailure {
    /// SQLSTATE classes and codes that say the server, not the statement, is the problem: a
    /// retry succeeds once the server recovers.
    ///
    /// `08` connection exceptions, `53` insufficient resources (`53100` disk full, `53300` too many
    /// connections), `57P01`–`57P05` shutdown and crash, `25006` read-only transaction (a replica
    /// promoted or a failover in progress), `40001` serialization failure, `40P01` deadlock,
    /// `55P03` lock not available, `57014` statement timeout or cancel, `58` system errors (I/O),
    /// and what stops Baton from using its database at all, which no input causes: `28` failed
    /// authentication, `3D000` unknown database, `55000` a database not accepting connections.
    static let transientClasses: Set<String> = ["08", "28", "53", "58"]
    static let transientCodes: Set<String> = [
        "57P01", "57P02", "57P03", "57P04", "57P05", "25006", "40001", "40P01", "55P03", "57014", "55000", "3D000",
    ]

    /// The class of `error` if it came from the database or its connection pool; `nil` otherwise.
    ///
    /// A server error with another SQLSTATE (a data exception `22`, an integrity violation `23`,
    /// a syntax or undefined-object error `42`) is permanent: the same statement with the same
    /// values fails again.
    public static func classify(_ error: any Error) -> FailureClass? {
        if let error = error as? PostgresTransactionError {
            return classify(error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError ?? error)
        }
        if error is ConnectionPoolError { return .transient }
        if let error = error as? PSQLError {
            guard error.code == .server, let state = error.serverInfo?[.sqlState] else {
                // The connection closed, failed, timed out or was cancelled: nothing about the input.
                return .transient
            }
            if transientCodes.contains(state) || transientClasses.contains(String(state.prefix(2))) {
                return .transient
            }
            return .permanent
        }
        if let error = error as? StoreError {
            return error.isRetriable ? .transient : .permanent
        }
        return nil
    }
}
