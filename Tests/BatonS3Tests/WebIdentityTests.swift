import BatonTestEnvironment
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@testable import BatonS3

/// IRSA: credentials from STS `AssumeRoleWithWebIdentity`. No STS can run here (SeaweedFS
/// honours only session tokens it issued itself), so a stand-in on loopback plays both STS and
/// the S3 endpoint (the mock of this suite): it records the exchanges and the headers each S3
/// call was signed with. Signing itself is checked against the real SeaweedFS elsewhere.
@Suite("S3 credentials from a web identity (STS and S3 stand-in)", .timeLimit(.minutes(2)))
struct WebIdentityTests {
    /// The form fields of each exchange, and the `Authorization` and session token of each S3
    /// call, the stand-in answered.
    final class Exchanges: Sendable {
        let forms = Mutex<[[String: String]]>([])
        let calls = Mutex<[(authorization: String, token: String)]>([])
        var count: Int { forms.withLock { $0.count } }
    }

    /// The stand-in: answers the n-th well-formed exchange with the key `ASIA<n>`, expiring after
    /// `lifetime`; refuses the role `arn:aws:iam::1:role/refused`; answers `HEAD` of any object.
    static func router(_ exchanges: Exchanges, lifetime: TimeInterval) -> Router<BasicRequestContext> {
        let router = Router()
        router.head("/{bucket}/**") { request, _ -> Response in
            exchanges.calls.withLock {
                $0.append(
                    (
                        request.headers[.authorization] ?? "",
                        request.headers[HTTPField.Name("x-amz-security-token")!] ?? ""
                    ))
            }
            return Response(status: .ok, headers: [.contentLength: "3", HTTPField.Name("ETag")!: "\"abc\""])
        }
        router.post("/") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            var form: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { form[parts[0]] = parts[1] }
            }
            exchanges.forms.withLock { $0.append(form) }
            if form["RoleArn"] == "arn:aws:iam::1:role/refused" {
                return Response(
                    status: .forbidden,
                    body: .init(
                        byteBuffer: ByteBuffer(
                            string: "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>")))
            }
            let expires = ISO8601DateFormatter().string(from: Date().addingTimeInterval(lifetime))
            let xml = """
                <AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>
                <AccessKeyId>ASIA\(exchanges.count)</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>
                <SessionToken>session-\(exchanges.count)</SessionToken><Expiration>\(expires)</Expiration>
                </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>
                """
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: xml)))
        }
        return router
    }

    /// Runs `body` with an S3 client that gets its credentials from a fresh stand-in.
    func withClient(
        role: String = "arn:aws:iam::1:role/baton", lifetime: TimeInterval = 3600, tokenFile: URL,
        _ body: @escaping @Sendable (S3Client, Exchanges) async throws -> Void
    ) async throws {
        let exchanges = Exchanges()
        let app = Application(
            router: Self.router(exchanges, lifetime: lifetime),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestStack.logger)
        try await app.test(.live) { server in
            let address = "http://127.0.0.1:\(try #require(server.port))"
            var configuration = S3Configuration()
            configuration.endpoint = address
            configuration.credentials = .webIdentity(
                roleARN: role, tokenFile: tokenFile.path, sessionName: "baton-test", stsEndpoint: address)
            try await body(S3Client(configuration: configuration, logger: TestStack.logger), exchanges)
        }
    }

    static func tokenFile(_ token: String) throws -> URL {
        let file = FileManager.default.temporaryDirectory.appending(path: "token-\(UUID().uuidString)")
        try token.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test("The token is exchanged once and the credentials kept until five minutes before they expire")
    func exchangedAndKept() async throws {
        let object = S3Location(bucket: "models", key: "v1/config.json")
        let token = try Self.tokenFile("jwt-one\n")
        try await withClient(tokenFile: token) { client, exchanges in
            let first = try await client.head(object)
            let second = try await client.head(object)
            #expect(first?.size == 3 && second?.etag == "abc")
            let calls = exchanges.calls.withLock { $0 }
            #expect(calls.count == 2)
            #expect(
                calls.allSatisfy {
                    $0.authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=ASIA1/") && $0.token == "session-1"
                })
            let forms = exchanges.forms.withLock { $0 }
            #expect(forms.count == 1)
            #expect(forms.first?["Action"] == "AssumeRoleWithWebIdentity")
            #expect(forms.first?["RoleArn"] == "arn:aws:iam::1:role/baton")
            #expect(forms.first?["RoleSessionName"] == "baton-test")
            #expect(forms.first?["WebIdentityToken"] == "jwt-one")
        }
        // Credentials about to expire are exchanged again, with the token file read again (the
        // kubelet rotates it).
        try await withClient(lifetime: 60, tokenFile: token) { client, exchanges in
            _ = try await client.head(object)
            try "jwt-two".write(to: token, atomically: true, encoding: .utf8)
            _ = try await client.head(object)
            #expect(exchanges.calls.withLock { $0.map(\.token) } == ["session-1", "session-2"])
            #expect(exchanges.forms.withLock { $0.map { $0["WebIdentityToken"] } } == ["jwt-one", "jwt-two"])
        }
    }

    @Test("A refused role and a missing token file are readable errors")
    func refusals() async throws {
        let location = S3Location(bucket: "models", key: "v1/config.json")
        try await withClient(role: "arn:aws:iam::1:role/refused", tokenFile: try Self.tokenFile("jwt")) { client, _ in
            await #expect(
                throws: S3Error.refused(
                    status: 403, "STS refused AssumeRoleWithWebIdentity for arn:aws:iam::1:role/refused: AccessDenied")
            ) { try await client.head(location) }
        }
        let missing = URL(filePath: "/nonexistent/token")
        try await withClient(tokenFile: missing) { client, exchanges in
            do {
                _ = try await client.head(location)
                Issue.record("no token file, yet credentials")
            } catch {
                guard case S3Error.noCredentials(let reason) = error else {
                    Issue.record("\(error)")
                    return
                }
                #expect(reason.hasPrefix("cannot read the web identity token /nonexistent/token"), "\(reason)")
            }
            #expect(exchanges.count == 0)
        }
    }
}
