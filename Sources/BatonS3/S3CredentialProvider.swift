import BatonHTTPClient
import Foundation
import Logging
import NIOHTTP1

/// Hands out the credentials of an ``S3CredentialSource``: a fixed key as it is; a web identity
/// exchanged at STS (`AssumeRoleWithWebIdentity`) and kept until five minutes before it expires.
actor S3CredentialProvider {
    private let source: S3CredentialSource
    private let sts: JSONHTTPClient?
    private var cached: (credentials: S3Credentials, expires: Date)?

    init(source: S3CredentialSource, timeout: Duration, logger: Logger) {
        self.source = source
        if case .webIdentity(_, _, _, let endpoint) = source {
            var configuration = JSONHTTPClient.Configuration(service: "STS", baseURL: endpoint)
            configuration.requestTimeout = timeout
            configuration.maxResponseBytes = 64 << 10
            sts = JSONHTTPClient(configuration: configuration, logger: logger)
        } else {
            sts = nil
        }
    }

    /// The credentials to sign with now.
    func credentials() async throws(S3Error) -> S3Credentials {
        switch source {
        case .none:
            throw .noCredentials(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE"
            )
        case .key(let credentials):
            return credentials
        case .webIdentity(let role, let tokenFile, let session, _):
            if let cached, cached.expires.timeIntervalSinceNow > 300 { return cached.credentials }
            let fresh = try await assumeRole(role, tokenFile: tokenFile, session: session)
            cached = fresh
            return fresh.credentials
        }
    }

    private func assumeRole(
        _ role: String, tokenFile: String, session: String
    ) async throws(S3Error) -> (credentials: S3Credentials, expires: Date) {
        guard let sts else { throw .noCredentials("no STS endpoint") }
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
        } catch {
            throw .noCredentials("cannot read the web identity token \(tokenFile): \(error.localizedDescription)")
        }
        let form = JSONHTTPClient.queryString([
            "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": role,
            "RoleSessionName": session, "WebIdentityToken": token,
        ]).dropFirst()
        let answer: JSONHTTPClient.Answer
        do {
            answer = try await sts.send(
                .POST, "/", body: Array(form.utf8), contentType: "application/x-www-form-urlencoded",
                accept: "application/xml")
        } catch {
            let code = S3XML.value("Code", in: Substring(decoding: error.body, as: UTF8.self))
            if let status = error.status {
                throw .refused(
                    status: status, "STS refused AssumeRoleWithWebIdentity for \(role): \(code ?? error.reason)")
            }
            throw .unavailable("STS: \(error.reason)")
        }
        let xml = Substring(decoding: answer.body, as: UTF8.self)
        guard let key = S3XML.value("AccessKeyId", in: xml), let secret = S3XML.value("SecretAccessKey", in: xml),
            let sessionToken = S3XML.value("SessionToken", in: xml)
        else { throw .badResponse("STS's answer to AssumeRoleWithWebIdentity holds no credentials") }
        let expires = S3XML.value("Expiration", in: xml).flatMap { try? Date($0, strategy: .iso8601) }
        return (
            S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: sessionToken),
            expires ?? Date().addingTimeInterval(900)
        )
    }
}
