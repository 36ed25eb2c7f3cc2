import BatonRay
import NIOConcurrencyHelpers

/// Remembers the Ray server's version for a minute, so a submission costs one round trip, not two.
final class RayServerVersionCache: Sendable {
    private let cached = NIOLockedValueBox<(version: RayServerVersion, at: ContinuousClock.Instant)?>(nil)
    private let maxAge: Duration = .seconds(60)

    func version(from launcher: any RayJobLauncher) async throws -> RayServerVersion {
        if let entry = cached.withLockedValue({ $0 }), ContinuousClock.now - entry.at < maxAge {
            return entry.version
        }
        let version = try await launcher.version()
        cached.withLockedValue { $0 = (version, .now) }
        return version
    }
}
