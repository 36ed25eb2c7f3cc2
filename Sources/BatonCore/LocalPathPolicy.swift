import Foundation

/// Where a spec may point at files on the hosts Baton runs on (the review's path traversal: a
/// `working_dir` of `/etc` is packaged and uploaded to Ray, an input of `/` is hashed by walking
/// the whole disk).
///
/// A local `working_dir` must lie inside the jobs root (a relative one is read from there). A
/// local input, a `file://` URI or an absolute path, must lie inside the jobs root or a data
/// root; a relative one is read from the working_dir and must stay inside it. Remote URIs
/// (`s3://`, `gcs://`, ...) are not Baton's to judge. Paths are judged as written (`.` and `..`
/// folded); the worker judges them again with symlinks resolved before it reads anything.
public struct LocalPathPolicy: Sendable, Hashable {
    /// Where local `working_dir` folders live (`BATON_JOBS_ROOT`).
    public var jobsRoot: URL
    /// Where else local inputs may live (`BATON_DATA_ROOTS`).
    public var dataRoots: [URL]

    /// A policy over `jobsRoot` and `dataRoots`, each an absolute folder.
    public init(jobsRoot: URL, dataRoots: [URL] = []) {
        self.jobsRoot = jobsRoot.standardized
        self.dataRoots = dataRoots.map(\.standardized)
    }

    /// The local folder a `working_dir` names; `nil` for a remote one (a URI with a scheme).
    ///
    /// - Throws: ``PathRefusal`` when the folder lies outside the jobs root.
    public func workingDirectory(_ directory: String) throws(PathRefusal) -> URL? {
        if directory.contains("://") { return nil }
        let folder =
            (directory.hasPrefix("/") ? URL(filePath: directory) : jobsRoot.appending(path: directory)).standardized
        guard Self.contains(jobsRoot, folder) else {
            throw PathRefusal("working_dir '\(directory.prefix(200))' is outside the jobs root (BATON_JOBS_ROOT)")
        }
        return folder
    }

    /// The local file or folder an input URI names; `nil` for a remote one, or for a relative
    /// path when the code is not a local folder (the job reads it on Ray's side).
    ///
    /// - Throws: ``PathRefusal`` when the path lies outside the roots (or a relative one
    ///   leaves `workingDirectory`).
    public func localInput(_ uri: String, workingDirectory: URL?) throws(PathRefusal) -> URL? {
        let path: URL
        if uri.hasPrefix("file://") {
            guard let url = URL(string: uri), !url.path.isEmpty else {
                throw PathRefusal("input '\(uri.prefix(200))' is not a readable file URI")
            }
            path = URL(filePath: url.path).standardized
        } else if uri.contains("://") {
            return nil
        } else if uri.hasPrefix("/") {
            path = URL(filePath: uri).standardized
        } else {
            guard let workingDirectory else { return nil }
            let inside = workingDirectory.appending(path: uri).standardized
            guard Self.contains(workingDirectory.standardized, inside) else {
                throw PathRefusal("input '\(uri.prefix(200))' leaves its working_dir")
            }
            return inside
        }
        guard ([jobsRoot] + dataRoots).contains(where: { Self.contains($0, path) }) else {
            throw PathRefusal(
                "input '\(uri.prefix(200))' is outside the jobs root and the data roots (BATON_DATA_ROOTS)")
        }
        return path
    }

    /// The first local path in `spec` that lies outside the roots, with `params` filled in, as
    /// the sentence that rejects the request; `nil` when every path keeps inside.
    public func violation(in spec: PipelineSpec, params: [String: JSONValue]) -> String? {
        for stage in spec.stages {
            guard let ray = stage.ray else { continue }
            do throws(PathRefusal) {
                var folder: URL?
                if case .string(let directory) = ray.runtimeEnv["working_dir"] {
                    folder = try workingDirectory(directory)
                }
                for (name, reference) in stage.inputs.sorted(by: { $0.key < $1.key }) {
                    let parts = reference.split(separator: ".")
                    guard parts.count == 2, parts[0] == "params", let value = params[String(parts[1])] else {
                        continue
                    }
                    do throws(PathRefusal) {
                        _ = try localInput(value.plainText, workingDirectory: folder)
                    } catch {
                        throw PathRefusal("\(name): \(error.reason)")
                    }
                }
            } catch {
                return "path policy: stage \(stage.name): \(error.reason)"
            }
        }
        return nil
    }

    /// Whether `path` is `root` or lies under it, both taken as written (standardized).
    public static func contains(_ root: URL, _ path: URL) -> Bool {
        let base = root.standardized.pathComponents
        let components = path.standardized.pathComponents
        return components.count >= base.count && Array(components.prefix(base.count)) == base
    }
}

/// Why a path in a spec is refused: a sentence naming the rule.
public struct PathRefusal: Error, Sendable, Hashable {
    /// The sentence.
    public var reason: String

    /// A refusal saying `reason`.
    public init(_ reason: String) { self.reason = reason }
}
