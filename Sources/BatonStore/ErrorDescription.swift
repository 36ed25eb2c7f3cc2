import PostgresNIO

/// A readable one-line description of an error; for database errors the server's message, not a dump.
public func describeError(_ error: any Error) -> String {
    if let error = error as? PostgresTransactionError {
        return describeError(
            error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError ?? error)
    }
    if let error = error as? PSQLError {
        if let message = error.serverInfo?[.message] {
            let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
            return message + detail
        }
        return "database error: \(error.code)"
    }
    return String(describing: error)
}
