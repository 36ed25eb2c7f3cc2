import AsyncHTTPClient
import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import JWTKit
import NIOHTTP1
import PostgresNIO
import Testing

/// OIDC against a real issuer over HTTP: `tests/api/oidc_issuer.py` on a free port serves a
/// discovery document, the JWKS of a key the test makes, and the code flow with PKCE. The API
/// checks signature, issuer, audience and expiry, and takes the caller and scopes from the claims.
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

    /// A running issuer (`tests/api/oidc_issuer.py`) with the JWKS of `key` as `kid`.
    struct Issuer {
        let port = EngineFixture.freePort()
        let folder = FileManager.default.temporaryDirectory.appending(path: "oidc-\(TestStack.uniqueSuffix())")
        let process = Process()
        var url: String { "http://127.0.0.1:\(port)" }

        init(key: ES256PrivateKey, kid: String) throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let point = try #require(key.publicKey.parameters)
            let jwk = [
                "kty": "EC", "crv": "P-256", "x": point.x, "y": point.y, "kid": kid, "alg": "ES256", "use": "sig",
            ]
            try JSONSerialization.data(withJSONObject: ["keys": [jwk]]).write(to: folder.appending(path: "jwks.json"))
            process.executableURL = URL(filePath: try TestStack.variable("BATON_PYTHON_TOOLS"))
            process.arguments = [
                TestStack.repositoryRoot.appending(path: "tests/api/oidc_issuer.py").path, "\(port)", folder.path,
            ]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        /// Kills the issuer (SIGKILL: its server threads do not end on SIGTERM).
        func stop() { kill(process.processIdentifier, SIGKILL) }

        /// The token the issuer's token endpoint hands out.
        func handOut(_ token: String) throws {
            try token.write(to: folder.appending(path: "token.txt"), atomically: true, encoding: .utf8)
        }
    }

    @Test(
        "A valid JWT acts as its subject with its scopes; wrong audience, expired, forged and scope-less ones are refused"
    )
    func tokens() async throws {
        let key = ES256PrivateKey()
        let issuer = try Issuer(key: key, kid: "k1")
        defer { issuer.stop() }
        let port = issuer.port
        let fixture = try await EngineFixture(environment: [
            "BATON_OIDC_ISSUER": issuer.url, "BATON_OIDC_AUDIENCE": "baton",
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

    @Test("The console logs in at the issuer (code flow with PKCE): the session acts as the token's subject")
    func consoleLogin() async throws {
        let key = ES256PrivateKey()
        let issuer = try Issuer(key: key, kid: "k1")
        defer { issuer.stop() }
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key, kid: "k1")
        try issuer.handOut(
            try await signer.sign(
                Claims(
                    iss: issuer.url, aud: "baton", sub: "bob", exp: Int(Date().timeIntervalSince1970) + 3600,
                    scope: "runs:read"), kid: "k1"))
        let fixture = try await EngineFixture(environment: [
            "BATON_OIDC_ISSUER": issuer.url, "BATON_OIDC_AUDIENCE": "baton", "BATON_OIDC_CLIENT_ID": "baton-console",
        ])
        let base = "http://127.0.0.1:\(fixture.apiPort)"
        var environment = fixture.environment
        environment["BATON_CONSOLE_URL"] = base
        let serve = try BatonProcess(["serve"], environment: environment, logName: "\(fixture.prefix)-oidc")
        try await APITests.waitForAPI(fixture)
        // Shut down however the body ends: a client left running crashes the test process.
        try await HTTPClient.withHTTPClient(configuration: .init(redirectConfiguration: .disallow)) { browser in
            func get(_ url: String, cookie: String? = nil) async throws -> HTTPClientResponse {
                var request = HTTPClientRequest(url: url)
                if let cookie { request.headers.add(name: "Cookie", value: cookie) }
                return try await browser.execute(request, timeout: .seconds(30))
            }
            func cookie(_ response: HTTPClientResponse, _ name: String) -> String? {
                response.headers["Set-Cookie"].first { $0.hasPrefix(name + "=") }?.split(separator: ";").first.map(
                    String.init)
            }

            let page = try await get(base + "/ui/login")
            let html = String(buffer: try await page.body.collect(upTo: 1 << 20))
            #expect(html.contains("Log in with \(issuer.url)"))
            // The console sends the browser to the issuer, which sends it back with a code.
            let start = try await get(base + "/ui/login/oidc")
            #expect(start.status == .seeOther)
            let login = try #require(cookie(start, "baton_oidc_login"))
            let authorize = try #require(start.headers.first(name: "Location"))
            #expect(authorize.hasPrefix(issuer.url + "/authorize?") && authorize.contains("code_challenge_method=S256"))
            let approved = try await get(authorize)
            #expect(approved.status == .found)
            let callback = try #require(approved.headers.first(name: "Location"))
            #expect(callback.hasPrefix(base + "/ui/login/callback?code="))
            // Another browser (without the login cookie) cannot finish this login.
            #expect(try await get(callback).status == .badRequest)
            let finished = try await get(callback, cookie: login)
            #expect(finished.status == .ok)
            let session = try #require(cookie(finished, "baton_session"))
            let runs = try await get(base + "/ui", cookie: session)
            #expect(runs.status == .ok)
            let audit = try await fixture.withStore { try await $0.access.auditLog() }
            #expect(audit.contains { $0.action == "console.login" && $0.actor == "oidc:bob" })
            // The code was used once: a replay of the callback is refused by the issuer.
            #expect(try await get(callback, cookie: login).status == .badGateway)
        }
        await serve.stop()
    }
}
