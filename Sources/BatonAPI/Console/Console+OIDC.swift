import BatonCore
import BatonStore
import Crypto
import Foundation
import Hummingbird
import Logging

/// Logging in to the console at the OIDC issuer: the authorization code flow with PKCE
/// (RFC 7636). The state and the code verifier travel in a short-lived HttpOnly cookie, so any
/// API replica can finish a login another began; the token the issuer gives (the access token
/// if it verifies here, else the ID token) becomes the session, as a pasted token does.
extension Console {
    /// The cookie holding a login's state and PKCE verifier between the two legs.
    static let loginCookie = "baton_oidc_login"

    /// The issuer's settings when the console may log in there (a client id and the console's
    /// address are set); nil otherwise.
    var oidcLogin: (verifier: OIDCVerifier, clientID: String, redirectURI: String)? {
        guard let oidc = verifier.oidc, let settings = configuration.oidc, let clientID = settings.clientID,
            let console = settings.consoleURL
        else { return nil }
        return (oidc, clientID, (console.hasSuffix("/") ? String(console.dropLast()) : console) + "/ui/login/callback")
    }

    /// The login page, offering the issuer when one is configured.
    func loginPage(flash: String? = nil, _ status: HTTPResponse.Status = .ok) -> Response {
        var object: [String: Any] = ["title": "Log in", "flash": Self.present(flash)]
        if oidcLogin != nil, let issuer = configuration.oidc?.issuer { object["oidc"] = ["issuer": issuer] }
        return page("login", object, status)
    }

    /// `GET /ui/login/oidc`: sends the browser to the issuer.
    func startOIDCLogin(_ request: Request) async throws -> Response {
        guard let login = oidcLogin else {
            return message("Not configured", "OIDC login needs BATON_OIDC_CLIENT_ID and BATON_CONSOLE_URL.", .notFound)
        }
        guard let endpoint = try await login.verifier.discovery().authorizationEndpoint else {
            return message(
                "OIDC login unavailable", "The issuer's discovery document names no authorization endpoint.",
                .badGateway)
        }
        let state = Self.randomText()
        let codeVerifier = Self.randomText()
        let challenge = Base64URL.encode(Data(SHA256.hash(data: Data(codeVerifier.utf8))))
        let query = [
            ("response_type", "code"), ("client_id", login.clientID), ("redirect_uri", login.redirectURI),
            ("scope", "openid profile email"), ("state", state), ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ].map { OIDCVerifier.formEncode($0.0) + "=" + OIDCVerifier.formEncode($0.1) }.joined(separator: "&")
        var response = Response(
            status: .seeOther, headers: [.location: endpoint + (endpoint.contains("?") ? "&" : "?") + query])
        // Lax, not Strict: the browser comes back from the issuer's site with it.
        response.setCookie(
            Cookie(
                name: Self.loginCookie, value: state + "." + codeVerifier, maxAge: 600, path: "/ui/login",
                secure: configuration.tls != nil || login.redirectURI.hasPrefix("https://"), httpOnly: true,
                sameSite: .lax))
        return response
    }

    /// `GET /ui/login/callback`: the issuer sent the browser back with a code; exchanges it and
    /// starts the session.
    func finishOIDCLogin(_ request: Request) async throws -> Response {
        guard let login = oidcLogin else { return loginPage(flash: "OIDC login is not configured.", .notFound) }
        let query = request.uri.queryParameters
        if let error = query.get("error") {
            return loginPage(flash: "The issuer refused the login: \(error.prefix(200)).", .unauthorized)
        }
        let parts = request.cookies[Self.loginCookie]?.value.split(separator: ".", maxSplits: 1) ?? []
        guard parts.count == 2, let state = query.get("state"), state == parts[0], let code = query.get("code"),
            code.utf8.count <= 4096
        else {
            return loginPage(flash: "That login did not start here, or took over ten minutes; try again.", .badRequest)
        }
        let tokens: [String]
        do {
            tokens = try await login.verifier.exchange(
                code: code, verifier: String(parts[1]), redirectURI: login.redirectURI)
        } catch {
            logger.warning("OIDC code exchange failed", metadata: [LogKeys.error: "\(error)"])
            return loginPage(flash: "The issuer did not exchange the login code; try again.", .badGateway)
        }
        var refusal = "The issuer gave no token."
        for token in tokens {
            switch try await verifier.identify(token) {
            case .caller(let caller):
                try await store.access.audit(
                    caller, action: "console.login", target: nil, outcome: "signed_in",
                    detail: ["method": .string("oidc")])
                // A page, not a redirect: the session cookie is SameSite=Strict, and a redirect
                // that ends a chain begun at the issuer's site would arrive without it.
                var response = page("signed-in", ["title": "Logged in"])
                response.setCookie(cookie(value: token, maxAge: 12 * 3600, request: request))
                response.setCookie(Cookie(name: Self.loginCookie, value: "", maxAge: 0, path: "/ui/login"))
                return response
            case .refused(let reason):
                refusal = "The issuer's token is not accepted: \(reason)."
            }
        }
        return loginPage(flash: refusal, .unauthorized)
    }

    /// 32 random bytes as base64url text.
    private static func randomText() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode(Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }
}
