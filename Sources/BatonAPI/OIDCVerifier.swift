import BatonCore
import BatonHTTPClient
import BatonStore
import Foundation
import JWTKit
import Logging
import NIOHTTP1

/// Where an OIDC issuer is and how its tokens are read (`BATON_OIDC_*`).
public struct OIDCSettings: Sendable {
    /// The issuer, exactly as in its tokens' `iss`, e.g. `https://login.example.com/realms/ml`.
    public var issuer: String
    /// The audience tokens must be for (`aud`), e.g. `baton`.
    public var audience: String
    /// The claim naming the caller. Default: `sub`.
    public var identityClaim = "sub"
    /// The claim holding scopes. Default: `scope`.
    public var scopesClaim = "scope"
    /// The JWKS URL; nil to read `jwks_uri` from the issuer's discovery document.
    public var jwksURL: String?
    /// How long fetched keys are used before they are fetched again. Default: 10 minutes.
    public var keysTTL: Duration = .seconds(600)
    /// The least time between two fetches for unknown keys. Default: 30 s.
    public var minimumRefresh: Duration = .seconds(30)
    /// Tolerated clock difference for `exp` and `nbf`. Default: 60 s.
    public var leeway: TimeInterval = 60
    /// The console's client id at the issuer; with it, the console's login page offers "log in
    /// with OIDC" (the authorization code flow with PKCE). None by default.
    public var clientID: String?
    /// The client's secret, for an issuer that holds the console as a confidential client.
    public var clientSecret: String?
    /// The console's address as browsers reach it, e.g. `https://baton.example.com`: the
    /// redirect URI registered at the issuer is this followed by `/ui/login/callback`.
    public var consoleURL: String?

    /// Tokens of `issuer` for `audience`, other settings at their defaults.
    public init(issuer: String, audience: String) {
        self.issuer = issuer
        self.audience = audience
    }
}

/// Turns OIDC bearer JWTs into callers: the signature is checked against the issuer's JWKS
/// (found through its discovery document), and `iss`, `aud`, `exp` and `nbf` are checked. The
/// caller is `oidc:<identity claim>`; its scopes are the Baton scope names found in the scopes
/// claim (a space-separated string such as OAuth's `scope`, or a list such as `scp` or
/// `groups`). Keys are fetched when first needed, again after ``Configuration/keysTTL``, and
/// at once (at most every ``Configuration/minimumRefresh``) for a token signed by a key not
/// seen yet, so a rotation at the issuer is followed.
actor OIDCVerifier {
    typealias Configuration = OIDCSettings

    /// Why a JWT was refused (never shown with the token).
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    let configuration: Configuration
    private let http: JSONHTTPClient
    private let logger: Logger
    private var keys = JWTKeyCollection()
    private var fetchedAt: ContinuousClock.Instant?
    /// When fetching the keys last failed: for a few seconds after, requests are refused at once
    /// instead of each waiting on an issuer that does not answer.
    private var failedAt: ContinuousClock.Instant?

    init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        var endpoint = JSONHTTPClient.Configuration(service: "OIDC issuer", baseURL: "")
        endpoint.requestTimeout = .seconds(10)
        endpoint.maxResponseBytes = 1 << 20
        http = JSONHTTPClient(configuration: endpoint, logger: logger)
        self.logger = logger
    }

    /// Whether `token` has the shape of a JWT (three base64url parts).
    static func looksLikeJWT(_ token: String) -> Bool {
        token.utf8.count <= 16_384 && token.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }

    /// The caller `token` stands for.
    ///
    /// - Throws: ``Refusal`` for a token that is not valid here; `HTTPCallFailure` when the
    ///   issuer's keys cannot be fetched.
    func caller(token: String) async throws -> Caller {
        if fetchedAt.map({ ContinuousClock.now - $0 > configuration.keysTTL }) ?? true { try await refreshKeys() }
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch let error as JWTError where Self.isUnknownKey(error) {
            guard let fetchedAt, ContinuousClock.now - fetchedAt > configuration.minimumRefresh else {
                throw Refusal(description: "the token is signed by a key the issuer does not list")
            }
            try await refreshKeys()
            do {
                claims = try await keys.verify(token, as: Claims.self)
            } catch {
                throw Refusal(description: "the token's signature does not verify: \(Self.describe(error))")
            }
        } catch {
            throw Refusal(description: "the token's signature does not verify: \(Self.describe(error))")
        }
        return try caller(from: claims.values)
    }

    /// The caller named by verified `claims`, after the checks of time, issuer and audience.
    func caller(from claims: [String: JSONValue], now: Date = Date()) throws -> Caller {
        guard case .string(configuration.issuer)? = claims["iss"] else {
            throw Refusal(description: "the token is not from issuer \(configuration.issuer)")
        }
        let audiences: [String] =
            switch claims["aud"] {
            case .string(let one)?: [one]
            case .array(let many)?: many.compactMap { if case .string(let text) = $0 { text } else { nil } }
            default: []
            }
        guard audiences.contains(configuration.audience) else {
            throw Refusal(description: "the token is not for audience \(configuration.audience)")
        }
        guard let expiry = claims["exp"]?.numberValue else { throw Refusal(description: "the token has no exp") }
        guard now.timeIntervalSince1970 <= expiry + configuration.leeway else {
            throw Refusal(description: "the token expired")
        }
        if let notBefore = claims["nbf"]?.numberValue, now.timeIntervalSince1970 + configuration.leeway < notBefore {
            throw Refusal(description: "the token is not valid yet")
        }
        guard case .string(let identity)? = claims[configuration.identityClaim], !identity.isEmpty else {
            throw Refusal(description: "the token has no \(configuration.identityClaim) claim")
        }
        let words: [String] =
            switch claims[configuration.scopesClaim] {
            case .string(let text)?: text.split(separator: " ").map(String.init)
            case .array(let items)?: items.compactMap { if case .string(let text) = $0 { text } else { nil } }
            default: []
            }
        return Caller(name: "oidc:\(identity.prefix(200))", scopes: Set(words.compactMap(APIScope.init(rawValue:))))
    }

    /// The issuer's discovery document (`/.well-known/openid-configuration`), read once.
    struct Discovery: Decodable, Sendable {
        var jwksURI: String?
        var authorizationEndpoint: String?
        var tokenEndpoint: String?

        enum CodingKeys: String, CodingKey {
            case jwksURI = "jwks_uri"
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
        }
    }

    private var discovered: Discovery?

    /// The issuer's discovery document.
    func discovery() async throws -> Discovery {
        if let discovered { return discovered }
        let base = configuration.issuer.hasSuffix("/") ? String(configuration.issuer.dropLast()) : configuration.issuer
        let document = try http.decode(
            Discovery.self, from: try await http.send(.GET, base + "/.well-known/openid-configuration"))
        discovered = document
        return document
    }

    /// The tokens the issuer's token endpoint gives for an authorization `code` (RFC 6749
    /// §4.1.3, with the PKCE `verifier` of RFC 7636): the access token first, then the ID token.
    func exchange(code: String, verifier: String, redirectURI: String) async throws -> [String] {
        guard let clientID = configuration.clientID, let endpoint = try await discovery().tokenEndpoint else {
            throw Refusal(description: "the issuer has no token endpoint, or no client id is set")
        }
        var form = [
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI, "client_id": clientID,
            "code_verifier": verifier,
        ]
        if let secret = configuration.clientSecret { form["client_secret"] = secret }
        let body = form.sorted { $0.key < $1.key }.map { Self.formEncode($0.key) + "=" + Self.formEncode($0.value) }
            .joined(separator: "&")
        let answer = try await http.send(
            .POST, endpoint, body: Array(body.utf8), contentType: "application/x-www-form-urlencoded")
        struct Tokens: Decodable {
            var accessToken: String?
            var idToken: String?
            enum CodingKeys: String, CodingKey {
                case accessToken = "access_token"
                case idToken = "id_token"
            }
        }
        let tokens = try http.decode(Tokens.self, from: answer)
        return [tokens.accessToken, tokens.idToken].compactMap { $0 }
    }

    /// `text` as a form or query value.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    private func refreshKeys() async throws {
        if let failedAt, ContinuousClock.now - failedAt < .seconds(5) {
            throw Refusal(description: "the OIDC issuer's keys could not be fetched a moment ago; try again shortly")
        }
        do {
            try await fetchKeys()
            failedAt = nil
        } catch {
            failedAt = .now
            throw error
        }
    }

    private func fetchKeys() async throws {
        var jwksURL = configuration.jwksURL
        if jwksURL == nil {
            guard let listed = try await discovery().jwksURI else {
                throw Refusal(description: "the issuer's discovery document names no jwks_uri")
            }
            jwksURL = listed
        }
        let answer = try await http.send(.GET, jwksURL!)
        let fresh = JWTKeyCollection()
        do {
            _ = try await fresh.add(jwksJSON: String(decoding: answer.body, as: UTF8.self))
        } catch {
            throw Refusal(description: "the issuer's JWKS cannot be read: \(Self.describe(error))")
        }
        keys = fresh
        fetchedAt = .now
        logger.info("fetched OIDC keys", metadata: [LogKeys.service: "\(configuration.issuer)"])
    }

    private static func isUnknownKey(_ error: JWTError) -> Bool {
        error.errorType == .unknownKID || error.errorType == .noKeyProvided
    }

    private static func describe(_ error: any Error) -> String { String("\(error)".prefix(200)) }

    /// Every claim of a token, kept for the checks above (jwt-kit checks the signature).
    struct Claims: JWTPayload {
        var values: [String: JSONValue]

        init(from decoder: any Decoder) throws {
            values = try [String: JSONValue](from: decoder)
        }

        func encode(to encoder: any Encoder) throws { try values.encode(to: encoder) }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}
