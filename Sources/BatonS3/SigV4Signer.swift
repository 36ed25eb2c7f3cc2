import BatonCore
import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html): the
/// `Authorization` header and the `x-amz-*` headers it signs.
public struct SigV4Signer: Sendable {
    /// The SHA-256 of an empty payload, which every bodiless request signs.
    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Whose key signs.
    public var credentials: S3Credentials
    /// The region of the scope, e.g. `us-east-1`.
    public var region: String
    /// The service of the scope: `s3`.
    public var service = "s3"

    /// A signer for `region` with `credentials`.
    public init(credentials: S3Credentials, region: String) {
        self.credentials = credentials
        self.region = region
    }

    /// The headers to send with a request: `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (temporary credentials) and `Authorization`.
    ///
    /// - Parameters:
    ///   - method: e.g. `GET`.
    ///   - host: the `Host` header as sent (with the port when it is not the scheme's default).
    ///   - path: the request path, already URI-encoded as sent (``encodePath(_:)``).
    ///   - query: the query parameters, not encoded.
    ///   - payloadSHA256: the hex SHA-256 of the body.
    ///   - date: the signing time (UTC).
    public func headers(
        method: String, host: String, path: String, query: [String: String] = [:],
        payloadSHA256: String = emptyPayloadSHA256, date: Date = Date()
    ) -> [(name: String, value: String)] {
        let stamp = Self.timestamp(date)
        let day = String(stamp.prefix(8))
        var signed: [(name: String, value: String)] = [
            ("host", host), ("x-amz-content-sha256", payloadSHA256), ("x-amz-date", stamp),
        ]
        if let token = credentials.sessionToken { signed.append(("x-amz-security-token", token)) }
        signed.sort { $0.name < $1.name }
        let signedNames = signed.map(\.name).joined(separator: ";")
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, Self.canonicalQuery(query),
            signed.map { "\($0.name):\($0.value.trimmingCharacters(in: .whitespaces))\n" }.joined(),
            signedNames, payloadSHA256,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", stamp, scope, SHA256.hash(data: Data(canonicalRequest.utf8)).lowercaseHex,
        ]
        .joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key).lowercaseHex
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"
        return signed.filter { $0.name != "host" } + [("Authorization", authorization)]
    }

    /// A path with each segment URI-encoded as SigV4 wants it: every byte but the unreserved
    /// characters `A-Z a-z 0-9 - . _ ~` as `%XX`; the `/` between segments kept.
    public static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }
            .joined(separator: "/")
    }

    /// `name=value` pairs sorted by name, both URI-encoded, joined by `&`.
    static func canonicalQuery(_ query: [String: String]) -> String {
        query.map { (encode($0.key), encode($0.value)) }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!,
            parts.second!)
    }
}
