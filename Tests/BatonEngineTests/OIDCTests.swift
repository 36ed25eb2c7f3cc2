import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import JWTKit
import NIOHTTP1
import PostgresNIO
import Testing

/// OIDC bearer JWTs against a real issuer endpoint: a discovery document and a JWKS served over
/// HTTP (Python's `http.server` on a free port, with a key the test makes); the API checks
/// signature, issuer, audience and expiry, and takes the caller and scopes from the claims.
@Suite("OIDC tokens", .timeLimit(.minutes(5)))
struct OIDCTests {
    /// The claims a test token carries.
    struct Claims: JWTPayload {
        var iss: String
        var aud: String
        var sub: String
        var exp: Int
        var scope: String

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A folder served as the issuer: its discovery document and JWKS of `key` as `kid`.
    static func issuerFolder(port: Int, key: ES256PrivateKey, kid: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appending(path: "oidc-\(TestStack.uniqueSuffix())")
        try FileManager.default.createDirectory(
            at: folder.appending(path: ".well-known"), withIntermediateDirectories: true)
        let discovery = ["issuer": "http://127.0.0.1:\(port)", "jwks_uri": "http://127.0.0.1:\(port)/jwks.json"]
        try JSONSerialization.data(withJSONObject: discovery).write(
            to: folder.appending(path: ".well-known/openid-configuration"))
        let point = try #require(key.publicKey.parameters)
        let jwk: [String: String] = [
            "kty": "EC", "crv": "P-256", "x": point.x, "y": point.y, "kid": kid, "alg": "ES256", "use": "sig",
        ]
        try JSONSerialization.data(withJSONObject: ["keys": [jwk]]).write(to: folder.appending(path: "jwks.json"))
        return folder
    }

    @Test(
        "A valid JWT acts as its subject with its scopes; wrong audience, expired, forged and scope-less ones are refused"
    )
    func tokens() async throws {
        let port = EngineFixture.freePort()
        let key = ES256PrivateKey()
        let folder = try Self.issuerFolder(port: port, key: key, kid: "k1")
        let issuer = Process()
        issuer.executableURL = URL(filePath: try TestStack.variable("BATON_PYTHON_TOOLS"))
        issuer.arguments = ["-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", folder.path]
        issuer.standardOutput = FileHandle.nullDevice
        issuer.standardError = FileHandle.nullDevice
        try issuer.run()
        defer { issuer.terminate() }

        let fixture = try await EngineFixture(environment: [
            "BATON_OIDC_ISSUER": "http://127.0.0.1:\(port)", "BATON_OIDC_AUDIENCE": "baton",
        ])
        let serve = try fixture.serve("oidc")
        try await APITests.waitForAPI(fixture)
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key, kid: "k1")
        let forger = JWTKeyCollection()
        await forger.add(ecdsa: ES256PrivateKey(), kid: "k1")
        let hour = Int(Date().timeIntervalSince1970) + 3600
        func token(
            _ keys: JWTKeyCollection = signer, aud: String = "baton", exp: Int = hour,
            scope: String = "runs:read runs:submit"
        ) async throws -> String {
            try await keys.sign(
                Claims(iss: "http://127.0.0.1:\(port)", aud: aud, sub: "alice", exp: exp, scope: scope), kid: "k1")
        }

        let alice = APIClient(port: fixture.apiPort, token: try await token())
        let accepted = try await alice.call("createRun", .POST, "/v1/runs", json: APITests.body())
        #expect(accepted.status == 202, "\(accepted.text)")
        let runID = try #require(accepted.object["run_id"] as? String)
        let audit = try await fixture.withStore { try await $0.access.auditLog(target: runID) }
        #expect(audit.map(\.actor) == ["oidc:alice"])
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM run_requests WHERE requested_by = 'oidc:alice' AND run_id = \(UUID(uuidString: runID)!)"
            ) == 1)

        let noScope = try await alice.call("cancelRun", .POST, "/v1/runs/\(runID)/cancel")
        #expect(noScope.status == 403, "\(noScope.text)")
        let refusals: [(String, String)] = [
            (try await token(aud: "someone-else"), "the token is not for audience baton"),
            (try await token(exp: hour - 7200), "the token expired"),
            (try await token(forger), "signature does not verify"),
        ]
        for (jwt, reason) in refusals {
            let refused = try await alice.with(token: jwt).call("listRuns", .GET, "/v1/runs")
            #expect(refused.status == 401, "\(refused.text)")
            #expect((refused.object["detail"] as? String)?.contains(reason) == true, "\(refused.text)")
        }
        let malformed = try await alice.with(token: "a.b.c").call("listRuns", .GET, "/v1/runs")
        #expect(malformed.status == 401)
        #expect(try await alice.call("listRuns", .GET, "/v1/runs").status == 200, "a good token still works")
        await serve.stop()
    }
}
