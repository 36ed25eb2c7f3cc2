import BatonStore

/// Turns bearer secrets into callers through the store, remembering each answer for a short
/// while so that a busy client costs one database lookup per ``ttl``, not one per request.
/// A revoked token therefore stops working within ``ttl``.
actor TokenVerifier {
    /// How long an answer (a caller, or "no such token") is kept.
    let ttl: Duration
    private let access: AccessStore
    private var answers: [String: (caller: Caller?, until: ContinuousClock.Instant)] = [:]
    /// The most answers kept; beyond it the memory is cleared (so unknown secrets cannot grow it).
    private let capacity = 10_000

    init(access: AccessStore, ttl: Duration = .seconds(10)) {
        self.access = access
        self.ttl = ttl
    }

    /// The caller `secret` stands for; nil for an unknown, revoked or expired token.
    func caller(secret: String) async throws -> Caller? {
        guard secret.hasPrefix(AccessStore.tokenPrefix), secret.utf8.count <= 200 else { return nil }
        // The digest is both the memory's key (no secret is kept) and the store's lookup.
        let key = AccessStore.digest(ofSecret: secret)
        let now = ContinuousClock.now
        if let answer = answers[key], answer.until > now { return answer.caller }
        let caller = try await access.caller(digest: key)
        if answers.count >= capacity { answers.removeAll(keepingCapacity: true) }
        answers[key] = (caller, now + ttl)
        return caller
    }
}
