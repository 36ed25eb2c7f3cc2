import Foundation

/// Where S3 is and who Baton is there, read from the standard AWS variables so that Baton, the
/// jobs (boto3) and the AWS CLI share one configuration.
public struct S3Configuration: Sendable {
    /// An S3-compatible endpoint (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`), e.g.
    /// `http://127.0.0.1:8333` for SeaweedFS or MinIO, addressed path-style
    /// (`<endpoint>/<bucket>/<key>`); `nil` for AWS, addressed virtual-host style
    /// (`https://<bucket>.s3.<region>.amazonaws.com/<key>`).
    public var endpoint: String?
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    public var region = "us-east-1"
    /// Where the credentials come from.
    public var credentials: S3CredentialSource = .none
    /// The longest one call may take, answer included.
    public var requestTimeout: Duration = .seconds(10)
    /// Whether an ETag that looks like an md5 must equal the md5 a job recorded
    /// (`BATON_S3_VERIFY_ETAG`, default true). Turn off for buckets encrypted with SSE-KMS,
    /// whose ETags are not the content's md5.
    public var verifiesETag = true

    /// A configuration with no endpoint, region `us-east-1` and no credentials.
    public init() {}

    /// The configuration the AWS variables in `environment` describe. Credentials:
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`), else a web
    /// identity (`AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE`, as EKS sets them for IRSA).
    public init(environment: [String: String]) {
        func value(_ name: String) -> String? {
            environment[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        }
        endpoint = (value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")).map {
            $0.hasSuffix("/") ? String($0.dropLast()) : $0
        }
        region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? region
        verifiesETag = value("BATON_S3_VERIFY_ETAG").map { !["false", "0", "no"].contains($0.lowercased()) } ?? true
        if let key = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") {
            credentials = .key(
                S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN")))
        } else if let role = value("AWS_ROLE_ARN"), let tokenFile = value("AWS_WEB_IDENTITY_TOKEN_FILE") {
            credentials = .webIdentity(
                roleARN: role, tokenFile: tokenFile, sessionName: value("AWS_ROLE_SESSION_NAME") ?? "baton",
                stsEndpoint: value("AWS_ENDPOINT_URL_STS") ?? "https://sts.\(region).amazonaws.com")
        }
    }

    /// The base URL and the path of `location`, as sent and as signed.
    func address(of location: S3Location) -> (baseURL: String, host: String, path: String) {
        let key = SigV4Signer.encodePath(location.key)
        if let endpoint {
            let base = URL(string: endpoint)
            let host = (base?.host ?? endpoint) + (base?.port.map { ":\($0)" } ?? "")
            return (endpoint, host, "/\(SigV4Signer.encodePath(location.bucket))/\(key)")
        }
        let host = "\(location.bucket).s3.\(region).amazonaws.com"
        return ("https://\(host)", host, "/\(key)")
    }
}

/// Where S3 credentials come from.
public enum S3CredentialSource: Sendable, Hashable {
    /// None configured: every call fails with ``S3Error/noCredentials(_:)``.
    case none
    /// A fixed access key.
    case key(S3Credentials)
    /// Temporary credentials from STS `AssumeRoleWithWebIdentity`, with the token in
    /// `tokenFile` (read again for each exchange: the kubelet rotates it).
    case webIdentity(roleARN: String, tokenFile: String, sessionName: String, stsEndpoint: String)
}
