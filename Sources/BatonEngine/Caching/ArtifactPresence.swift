import Foundation

/// Tells whether an artifact still exists where a job wrote it, so that a cache hit never hands
/// a stage an input that was deleted.
public protocol ArtifactPresence: Sendable {
    /// The URI schemes this check understands, e.g. `file`.
    var schemes: Set<String> { get }
    /// Whether the artifact at `uri` exists.
    func exists(_ uri: String) async throws -> Bool
}

/// `file://` artifacts: the path must exist (a file or a folder).
public struct FileArtifactPresence: ArtifactPresence {
    /// Checks local paths.
    public init() {}

    /// `file` only.
    public var schemes: Set<String> { ["file"] }

    /// Whether the file or folder at `uri` exists; `false` for a URI that is not a file URL.
    public func exists(_ uri: String) async throws -> Bool {
        guard let url = URL(string: uri), url.isFileURL else { return false }
        return FileManager.default.fileExists(atPath: url.path)
    }
}

/// The presence checks by scheme. An artifact whose scheme has no check counts as missing:
/// the cache cannot vouch for it, so the stage runs.
public struct ArtifactPresenceChecks: Sendable {
    private let checks: [String: any ArtifactPresence]

    /// - Parameter checks: e.g. an `s3` check next to the built-in `file` one.
    public init(_ checks: [any ArtifactPresence] = [FileArtifactPresence()]) {
        var byScheme: [String: any ArtifactPresence] = [:]
        for check in checks {
            for scheme in check.schemes { byScheme[scheme] = check }
        }
        self.checks = byScheme
    }

    /// The first URI that is missing or cannot be checked, with why; `nil` when all exist.
    public func firstMissing(_ uris: [String]) async -> String? {
        for uri in uris {
            let scheme = uri.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            guard let check = checks[scheme] else { return "\(uri) (no presence check for '\(scheme)://')" }
            do {
                if try await !check.exists(uri) { return "\(uri) (gone)" }
            } catch {
                return "\(uri) (check failed: \(error))"
            }
        }
        return nil
    }
}
