// MARK: - KafkaAdminConfiguration

/// How a ``KafkaAdmin`` connects.
public struct KafkaAdminConfiguration: Sendable, CustomStringConvertible {
    /// The brokers to contact first, as `host:port`.
    public var bootstrapServers: [String]
    /// The client id the brokers see in their logs. Default: `"baton-admin"`.
    public var clientID: String = "baton-admin"
    /// Further librdkafka properties, passed through verbatim, such as `security.protocol` or
    /// `sasl.password`. Values of keys that contain "password", "secret" or "key" are never
    /// logged or printed. Default: none.
    ///
    /// - Important: `bootstrap.servers` and `client.id` are refused here: creating the admin
    ///   client throws ``KafkaError/Code/invalidConfiguration``.
    public var extra: [String: String] = [:]

    /// Creates a configuration.
    ///
    /// - Parameter bootstrapServers: The brokers to contact first, as `host:port`.
    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    /// The configuration as librdkafka properties, secrets redacted.
    public var description: String {
        let rendered = (try? properties().redactedDescription) ?? "<invalid>"
        return "KafkaAdminConfiguration(\(rendered))"
    }

    /// The librdkafka properties this configuration stands for.
    func properties() throws(KafkaError) -> KafkaConfigurationProperties {
        guard !bootstrapServers.isEmpty else {
            throw KafkaError.invalidConfiguration("bootstrapServers is empty: name at least one broker as host:port.")
        }
        var properties = KafkaConfigurationProperties()
        properties.set("bootstrap.servers", bootstrapServers.joined(separator: ","))
        properties.set("client.id", clientID)
        try properties.apply(
            extra: extra,
            managed: [
                "bootstrap.servers": "set bootstrapServers",
                "metadata.broker.list": "set bootstrapServers",
                "client.id": "set clientID",
            ]
        )
        return properties
    }
}
