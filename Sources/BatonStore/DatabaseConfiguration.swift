import BatonCore
import Foundation
import PostgresNIO

/// Where the database is and how to talk to it, read from a `postgres://` URL.
public struct DatabaseConfiguration: Sendable {
    /// The database server's host name.
    public var host: String
    /// The server's port. Default: 5432.
    public var port: Int
    /// The user to connect as.
    public var username: String
    /// The user's password; nil when the URL has none.
    public var password: String?
    /// The database's name.
    public var database: String
    /// Whether to require TLS (`?sslmode=require`). Default: false.
    public var requireTLS = false
    /// The longest a connection attempt may take. Default: 10 s.
    public var connectTimeout: Duration = .seconds(10)
    /// The longest any statement may run before PostgreSQL cancels it. Default: 30 s.
    public var statementTimeout: Duration = .seconds(30)
    /// The most connections in the pool. Default: 20.
    public var maximumConnections = 20

    /// Reads `postgres://user:password@host:port/database[?sslmode=require]`.
    ///
    /// - Throws: `StoreError.invalidConfiguration` naming what is missing (never echoing the password).
    public init(url: String) throws(StoreError) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme) else {
            throw .invalidConfiguration("database URL must look like postgres://user:password@host:5432/database")
        }
        guard let host = components.host, !host.isEmpty, let username = components.user else {
            throw .invalidConfiguration("database URL needs a host and a user name")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw .invalidConfiguration("database URL needs a database name") }
        self.host = host
        self.port = components.port ?? 5432
        self.username = username.removingPercentEncoding ?? username
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database
        self.requireTLS = components.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } ?? false
    }

    /// The postgres-nio client configuration.
    public func makeClientConfiguration() -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.connectTimeout = connectTimeout
        configuration.options.maximumConnections = maximumConnections
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", "\(statementTimeout.milliseconds)"),
            ("lock_timeout", "\(statementTimeout.milliseconds)"),
            ("application_name", "baton"),
        ]
        return configuration
    }
}
