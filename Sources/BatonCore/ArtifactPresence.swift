import Foundation

/// Tells whether an artifact is still where a job wrote it, as the job recorded it, so that a
/// cache hit never hands a stage an input that was deleted or changed.
public protocol ArtifactPresence: Sendable {
    /// The URI schemes this check understands, e.g. `file`.
    var schemes: Set<String> { get }
    /// `nil` when `output` is there as recorded; otherwise what is wrong, in words
    /// (`gone: ...`, `changed: ...`).
    func problem(with output: JobOutput) async throws -> String?
}

/// `file://` artifacts: the path must exist (a file or a folder).
public struct FileArtifactPresence: ArtifactPresence {
    /// Checks local paths.
    public init() {}

    /// `file` only.
    public var schemes: Set<String> { ["file"] }

    /// `gone` when no file or folder is at the output's path.
    public func problem(with output: JobOutput) async throws -> String? {
        guard let url = URL(string: output.uri), url.isFileURL else { return "not a file URL" }
        return FileManager.default.fileExists(atPath: url.path) ? nil : "gone"
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

    /// The first output that is missing, changed or cannot be checked, as `<uri> (<why>)`;
    /// `nil` when all are there as recorded.
    public func firstMissing(_ outputs: [JobOutput]) async -> String? {
        for output in outputs {
            let scheme = output.uri.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            guard let check = checks[scheme] else { return "\(output.uri) (no presence check for '\(scheme)://')" }
            do {
                if let problem = try await check.problem(with: output) { return "\(output.uri) (\(problem))" }
            } catch {
                return "\(output.uri) (check failed: \(error))"
            }
        }
        return nil
    }
}
