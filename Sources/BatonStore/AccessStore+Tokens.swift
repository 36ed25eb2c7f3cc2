import BatonCore
import Crypto
import Foundation
import PostgresNIO

extension AccessStore {
    /// The prefix of every token's secret, so that a leaked one is easy to recognise and search for.
    public static let tokenPrefix = "baton_"

    /// Makes a token and returns it with its secret, which is shown once and never stored.
    ///
    /// - Throws: ``StoreError`` when a live token already has `name`.
    public func createToken(
        name: String, scopes: Set<APIScope>, createdBy: String, expiresAt: Date? = nil
    ) async throws -> (token: APITokenView, secret: String) {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let secret = Self.tokenPrefix + Base64URL.encode(Data(random))
        let id = UUID()
        let scopeNames = scopes.sorted().map(\.rawValue)
        let rows = try await client.statement(
            """
            INSERT INTO api_tokens (id, name, secret_sha256, scopes, created_by, expires_at)
            VALUES (\(id), \(name), \(Self.digest(ofSecret: secret)), \(scopeNames), \(createdBy), \(expiresAt))
            ON CONFLICT DO NOTHING
            RETURNING created_at
            """, logger: logger)
        for try await createdAt in rows.decode(Date.self) {
            let token = APITokenView(
                id: id, name: name, scopes: scopes.sorted(), createdBy: createdBy, createdAt: createdAt,
                expiresAt: expiresAt)
            try await audit(
                Caller(name: createdBy, scopes: [.admin]), action: "tokens.create", target: name, outcome: "created",
                detail: ["scopes": .array(scopeNames.map(JSONValue.string))])
            return (token, secret)
        }
        throw StoreError.conflict("a live token is already named '\(name)'; revoke it first")
    }

    /// The caller of the token whose secret has this digest (``digest(ofSecret:)``); nil when no
    /// live, unexpired token has it. Notes the use (at most once a minute per token).
    public func caller(digest: String) async throws -> Caller? {
        let rows = try await client.statement(
            """
            UPDATE api_tokens SET last_used_at = CASE
                WHEN last_used_at IS NULL OR last_used_at < now() - interval '1 minute' THEN now()
                ELSE last_used_at END
            WHERE secret_sha256 = \(digest) AND revoked_at IS NULL
              AND (expires_at IS NULL OR expires_at > now())
            RETURNING id, name, scopes
            """, logger: logger)
        for try await (id, name, scopes) in rows.decode((UUID, String, [String]).self) {
            return Caller(name: "token:\(name)", tokenID: id, scopes: Set(scopes.compactMap(APIScope.init)))
        }
        return nil
    }

    /// Every token, live ones first, newest first.
    public func tokens() async throws -> [APITokenView] {
        let rows = try await client.statement(
            """
            SELECT id, name, scopes, created_by, created_at, expires_at, revoked_at, last_used_at FROM api_tokens
            ORDER BY revoked_at IS NOT NULL, created_at DESC LIMIT 1000
            """, logger: logger)
        var tokens: [APITokenView] = []
        for try await (id, name, scopes, createdBy, createdAt, expiresAt, revokedAt, lastUsedAt) in rows.decode(
            (UUID, String, [String], String, Date, Date?, Date?, Date?).self)
        {
            tokens.append(
                APITokenView(
                    id: id, name: name, scopes: scopes.compactMap(APIScope.init), createdBy: createdBy,
                    createdAt: createdAt, expiresAt: expiresAt, revokedAt: revokedAt, lastUsedAt: lastUsedAt))
        }
        return tokens
    }

    /// Revokes the live token named `name`; `false` when there is none.
    public func revokeToken(named name: String, by actor: String) async throws -> Bool {
        let rows = try await client.statement(
            "UPDATE api_tokens SET revoked_at = now() WHERE name = \(name) AND revoked_at IS NULL RETURNING id",
            logger: logger)
        for try await _ in rows.decode(UUID.self) {
            try await audit(
                Caller(name: actor, scopes: [.admin]), action: "tokens.revoke", target: name, outcome: "revoked")
            return true
        }
        return false
    }

    /// The lowercase hex SHA-256 of a secret, as stored.
    public static func digest(ofSecret secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
