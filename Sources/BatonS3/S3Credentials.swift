/// An AWS access key, with the session token of temporary credentials. Its description never
/// shows the secret.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible {
    /// `AWS_ACCESS_KEY_ID`.
    public var accessKeyID: String
    /// `AWS_SECRET_ACCESS_KEY`.
    public var secretAccessKey: String
    /// `AWS_SESSION_TOKEN`, for temporary credentials (STS, IRSA).
    public var sessionToken: String?

    /// Credentials with these parts.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The access key id only.
    public var description: String { "access key \(accessKeyID)" }
}
