import BatonCore
import Foundation

/// The worker's side of ``LocalPathPolicy``: the same rules, judged again with symlinks resolved,
/// just before Baton reads a local folder or file (a link inside the jobs root may point
/// anywhere, and a job may report any URI as an output).
struct LocalPaths: Sendable {
    /// The rules, as the coordinator applied them to the request.
    let policy: LocalPathPolicy
    /// Where local inputs may be read from (symlinks resolved): the jobs root, the data roots,
    /// and the artifact root when it is local (earlier stages' outputs).
    private let readableRoots: [URL]

    /// The rules of `policy`, reading also under `artifactRoot` when it is a `file://` URI.
    init(policy: LocalPathPolicy, artifactRoot: String) {
        self.policy = policy
        var roots = [policy.jobsRoot] + policy.dataRoots
        if artifactRoot.hasPrefix("file://"), let url = URL(string: artifactRoot) {
            roots.append(URL(filePath: url.path))
        }
        readableRoots = roots.map { $0.standardized.resolvingSymlinksInPath() }
    }

    /// The real folder a local `working_dir` names; `nil` for remote code (a URI).
    ///
    /// - Throws: ``PathRefusal`` when the folder, or what it links to, lies outside the jobs root.
    func workingDirectory(_ directory: String) throws(PathRefusal) -> URL? {
        guard let folder = try policy.workingDirectory(directory) else { return nil }
        let real = folder.resolvingSymlinksInPath()
        guard LocalPathPolicy.contains(policy.jobsRoot.resolvingSymlinksInPath(), real) else {
            throw PathRefusal("working_dir '\(directory.prefix(200))' links outside the jobs root (BATON_JOBS_ROOT)")
        }
        return real
    }

    /// The real local file or folder an input URI names, when Baton may read it to hash it: a
    /// `file://` URI, an absolute path, or a path relative to `workingDirectory`, that resolves
    /// inside the readable roots or the working directory; `nil` otherwise (remote, elsewhere).
    func hashable(_ uri: String, workingDirectory: URL?) -> URL? {
        let path: URL?
        if uri.hasPrefix("file://") {
            path = URL(string: uri).map { URL(filePath: $0.path) }
        } else if uri.contains("://") {
            return nil
        } else if uri.hasPrefix("/") {
            path = URL(filePath: uri)
        } else {
            path = workingDirectory?.appending(path: uri)
        }
        guard let real = path?.standardized.resolvingSymlinksInPath() else { return nil }
        let roots = readableRoots + (workingDirectory.map { [$0] } ?? [])
        return roots.contains { LocalPathPolicy.contains($0, real) } ? real : nil
    }
}
