import BatonCore
import BatonStore
import Logging

/// Turns bearer secrets into callers: Baton's API tokens (`baton_...`) through the store, and,
/// when an OIDC issuer is configured, JWTs through ``OIDCVerifier``. Token answers are remembered
/// for a short while so that a busy client costs one database lookup per ``ttl``, not one per
/// request; a revoked token therefore stops working within ``ttl``. JWTs are checked every time
/// (a signature check, no database), so an expired one stops working at once.
actor TokenVerifier {
    /// Who a secret stands for, or why it stands for no one.
    enum Identity {
        case caller(Caller)
        case refused(String)
    }

    /// How long an answer (a caller, or "no such token") is kept.
    let ttl: Duration
    private let access: AccessStore
    /// The OIDC issuer's verifier, when one is configured.
    let oidc: OIDCVerifier?
    private let logger: Logger
    private var answers: [String: (caller: Caller?, until: ContinuousClock.Instant)] = [:]
    /// The most answers kept; beyond it the memory is cleared (so unknown secrets cannot grow it).
    private let capacity = 10_000

    init(access: AccessStore, ttl: Duration = .seconds(10), oidc: OIDCVerifier? = nil, logger: Logger) {
        self.access = access
        self.ttl = ttl
        self.oidc = oidc
        self.logger = logger
    }

    /// The caller `secret` stands for; nil for an unknown, revoked or expired token.
    func caller(secret: String) async throws -> Caller? {
        if case .caller(let caller) = try await identify(secret) { return caller }
        return nil
    }

    /// Who `secret` stands for, or why no one.
    func identify(_ secret: String) async throws -> Identity {
        if let oidc, OIDCVerifier.looksLikeJWT(secret) {
            do {
                return .caller(try await oidc.caller(token: secret))
            } catch let refusal as OIDCVerifier.Refusal {
                return .refused(refusal.description)
            } catch {
                logger.warning("OIDC keys could not be fetched", metadata: [LogKeys.error: "\(error)"])
                return .refused("the OIDC issuer's keys could not be fetched; try again")
            }
        }
        guard secret.hasPrefix(AccessStore.tokenPrefix), secret.utf8.count <= 200 else {
            return .refused(
                oidc == nil ? "the token is not a Baton token" : "the token is neither a Baton token nor a JWT")
        }
        // The digest is both the memory's key (no secret is kept) and the store's lookup.
        let key = AccessStore.digest(ofSecret: secret)
        let now = ContinuousClock.now
        let caller: Caller?
        if let answer = answers[key], answer.until > now {
            caller = answer.caller
        } else {
            caller = try await access.caller(digest: key)
            if answers.count >= capacity { answers.removeAll(keepingCapacity: true) }
            answers[key] = (caller, now + ttl)
        }
        return caller.map(Identity.caller) ?? .refused("the token is unknown, revoked or expired")
    }
}
