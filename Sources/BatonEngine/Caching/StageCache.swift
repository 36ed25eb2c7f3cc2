import BatonCore
import BatonStore
import Foundation

/// Decides whether an attempt runs or reuses the outputs of an earlier one.
///
/// A hit needs a succeeded attempt with the same fingerprint (or the attempt `runs retry
/// --from` pinned) that recorded every output the stage declares, all of which still exist. Every decision comes with its reason in
/// words, stored with the attempt for `baton cache explain`.
struct StageCache: Sendable {
    let attempts: AttemptStore
    let presence: ArtifactPresenceChecks

    enum Decision {
        case hit(CacheCandidate, reason: String)
        case miss(reason: String)
    }

    func decide(_ claim: ClaimedAttempt, stage: StageSpec, fingerprint: StageFingerprint) async throws -> Decision {
        switch try await attempts.cachePolicy(runID: claim.runID, stage: claim.stage) {
        case .reuse(let attemptID):
            guard let source = try await attempts.reusableAttempt(attemptID) else {
                return .miss(reason: "attempt \(attemptID.lowercased) to reuse did not succeed")
            }
            if let unrecorded = Self.unrecorded(stage, source) {
                return .miss(reason: "attempt \(attemptID.lowercased) to reuse \(unrecorded)")
            }
            if let missing = await presence.firstMissing(source.outputs) {
                return .miss(reason: "an output of attempt \(attemptID.lowercased) to reuse is missing: \(missing)")
            }
            return .hit(source, reason: "reused attempt \(Self.describe(source)) as runs retry --from asked")
        case .disabled:
            return .miss(reason: "the cache is off for this stage of this run (--no-cache, or runs retry --from)")
        case .lookUp:
            guard stage.cache else { return .miss(reason: "the stage says cache: false") }
            let candidates = try await attempts.cacheCandidates(fingerprint: fingerprint.digest)
            guard !candidates.isEmpty else {
                return .miss(reason: "no succeeded attempt has fingerprint \(fingerprint.digest.prefix(19))...")
            }
            var gone: [String] = []
            for candidate in candidates {
                if let unrecorded = Self.unrecorded(stage, candidate) {
                    gone.append("attempt \(candidate.attemptID.lowercased): \(unrecorded)")
                    continue
                }
                guard let missing = await presence.firstMissing(candidate.outputs) else {
                    return .hit(candidate, reason: "same fingerprint as attempt \(Self.describe(candidate))")
                }
                gone.append("attempt \(candidate.attemptID.lowercased): \(missing)")
            }
            return .miss(
                reason: "attempts with the same fingerprint lost outputs: \(gone.joined(separator: "; "))")
        }
    }

    /// Why an attempt cannot stand in for the stage although it succeeded: it recorded none of
    /// some output the stage declares (a log read short, an attempt from before outputs were
    /// checked); `nil` when it has them all.
    static func unrecorded(_ stage: StageSpec, _ candidate: CacheCandidate) -> String? {
        let recorded = Set(candidate.outputs.map(\.name))
        let lacking = stage.outputs.filter { !recorded.contains($0) }
        guard !lacking.isEmpty else { return nil }
        return "recorded no declared output " + lacking.map { "'\($0)'" }.joined(separator: ", ")
    }

    private static func describe(_ candidate: CacheCandidate) -> String {
        "\(candidate.attemptID.lowercased) of run \(candidate.runID.lowercased)"
    }
}
