import ArgumentParser
import BatonCore
import BatonS3
import BatonStore
import Foundation

/// A run as a DVC pipeline: `dvc.yaml` (stages with `cmd`, `deps`, `outs`) and `dvc.lock`
/// (schema '2.0': every dep and out with DVC 3's md5, size and, for folders, nfiles).
///
/// DVC wants paths inside the project, so URIs are mapped: `file://` paths relative to the
/// deepest folder that holds every `file://` artifact of the run (the artifact root), `s3://`
/// keys relative to the deepest prefix that holds every `s3://` artifact when they share one
/// bucket (the S3 root, named as the DVC remote `baton`), and any other URI to
/// `_external/<scheme>/<host>/<path>`. Copy or sync the roots' contents into the export folder
/// and `dvc status` checks the real files.
struct ExportDVCProject {
    /// The stages' files, by name.
    var dvcYAML: String
    var dvcLock: String
    /// The folder `file://` paths are relative to; `nil` when the run has no `file://` artifact.
    var artifactRoot: String?
    /// The `s3://bucket/prefix` that `s3://` paths are relative to; `nil` when the run has no
    /// `s3://` artifact, or has them in several buckets.
    var s3Root: String?

    /// Builds the files from a run's steps and its spec (for each stage's command).
    ///
    /// - Throws: `ValidationError` when two stages would write the same path.
    init(steps: [RunStep], spec: PipelineSpec) throws {
        let uris = steps.flatMap { ($0.inputs + $0.outputs).map(\.artifact.uri) }
        let root = Self.commonFolder(of: uris.compactMap(Self.filePath))
        artifactRoot = root
        let s3Root = Self.commonS3Root(of: uris)
        self.s3Root = s3Root
        let stagesByName = Dictionary(spec.stages.map { ($0.name, $0) }) { first, _ in first }
        var producedBy: [String: String] = [:]
        var yaml = ["stages:"]
        var lock = ["schema: '2.0'", "stages:"]
        for step in steps {
            let command = Self.command(stagesByName[step.stage], name: step.stage)
            let deps = Self.entries(step.inputs, root: root, s3Root: s3Root)
            let outs = Self.entries(step.outputs, root: root, s3Root: s3Root)
            for (path, _) in outs {
                if let other = producedBy.updateValue(step.stage, forKey: path) {
                    throw ValidationError("stages \(other) and \(step.stage) both write \(path); DVC needs one writer")
                }
            }
            let name = Self.quoted(step.stage)
            yaml += ["  \(name):", "    cmd: \(Self.quoted(command))"]
            lock += ["  \(name):", "    cmd: \(Self.quoted(command))"]
            for (key, entries) in [("deps", deps), ("outs", outs)] where !entries.isEmpty {
                yaml.append("    \(key):")
                yaml += entries.map { "    - \(Self.quoted($0.path))" }
                lock.append("    \(key):")
                for entry in entries { lock += Self.lockEntry(path: entry.path, artifact: entry.artifact) }
            }
        }
        dvcYAML = (steps.isEmpty ? ["stages: {}"] : yaml).joined(separator: "\n") + "\n"
        dvcLock = (steps.isEmpty ? ["schema: '2.0'", "stages: {}"] : lock).joined(separator: "\n") + "\n"
    }

    /// Ports as DVC lists them: by path, each path once.
    private static func entries(
        _ ports: [RunStepPort], root: String?, s3Root: String?
    ) -> [(path: String, artifact: ArtifactView)] {
        var byPath: [String: ArtifactView] = [:]
        for port in ports { byPath[projectPath(port.artifact.uri, root: root, s3Root: s3Root)] = port.artifact }
        return byPath.keys.sorted().map { ($0, byPath[$0]!) }
    }

    /// A dep or out of `dvc.lock`: path, then the hash (when the job reported one), size, nfiles.
    private static func lockEntry(path: String, artifact: ArtifactView) -> [String] {
        var entry = ["    - path: \(quoted(path))"]
        if let md5 = artifact.md5 {
            entry += ["      hash: md5", "      md5: \(quoted(md5))"]
        }
        if let size = artifact.size { entry.append("      size: \(size)") }
        if let nfiles = artifact.nfiles, artifact.md5?.hasSuffix(".dir") ?? true {
            entry.append("      nfiles: \(nfiles)")
        }
        return entry
    }

    /// The stage's command: a Ray stage's entrypoint; built-in stages say what runs them.
    private static func command(_ stage: StageSpec?, name: String) -> String {
        if let entrypoint = stage?.ray?.entrypoint { return entrypoint }
        return "echo 'baton: \(stage?.kind.rawValue ?? "unknown") stage \(name) runs in the engine'"
    }

    /// The local path of a `file://` URI.
    static func filePath(_ uri: String) -> String? {
        guard let url = URL(string: uri), url.scheme == "file" else { return nil }
        return url.path
    }

    /// The deepest folder that holds every path (a path's own folder when there is one).
    static func commonFolder(of paths: [String]) -> String? {
        let folders = paths.map { path in path.split(separator: "/").dropLast().map(String.init) }
        guard var common = folders.first else { return nil }
        for folder in folders.dropFirst() {
            common = Array(zip(common, folder).prefix { $0 == $1 }.map(\.0))
        }
        return "/" + common.joined(separator: "/")
    }

    /// The S3 root of `uris` (see the type's documentation).
    static func commonS3Root(of uris: [String]) -> String? {
        let locations = uris.filter { $0.lowercased().hasPrefix("s3://") }.compactMap(S3Location.init(uri:))
        guard let bucket = locations.first?.bucket, locations.allSatisfy({ $0.bucket == bucket }),
            let prefix = commonFolder(of: locations.map { "/" + $0.key })
        else { return nil }
        return "s3://\(bucket)" + (prefix == "/" ? "" : prefix)
    }

    /// The DVC remote `baton` at the S3 root, as `.dvc/config` writes it: the bucket's endpoint
    /// and region from the AWS variables. `nil` without an S3 root.
    func remoteConfig(_ s3: S3Configuration) -> String? {
        guard let s3Root else { return nil }
        var lines = ["['remote \"baton\"']", "    url = \(s3Root)", "    region = \(s3.region)"]
        if let endpoint = s3.endpoint { lines.append("    endpointurl = \(endpoint)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Where an artifact lives in the DVC project (see the type's documentation).
    static func projectPath(_ uri: String, root: String?, s3Root: String? = nil) -> String {
        if let path = filePath(uri), let root {
            return String(path.dropFirst(root.count).drop { $0 == "/" })
        }
        if let s3Root, uri.hasPrefix(s3Root + "/") {
            return String(uri.dropFirst(s3Root.count + 1))
        }
        guard let url = URL(string: uri), let scheme = url.scheme else { return "_external/" + uri }
        let path = url.path.drop { $0 == "/" }
        return "_external/\(scheme)/\(url.host ?? "_")" + (path.isEmpty ? "" : "/\(path)")
    }

    /// A YAML double-quoted scalar (JSON's string syntax, which YAML reads the same).
    private static func quoted(_ text: String) -> String {
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Encodes strings without escaping slashes, for readable paths.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()
}
