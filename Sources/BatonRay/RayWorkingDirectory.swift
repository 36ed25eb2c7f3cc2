import BatonCore
import Crypto
import Foundation
import ZIPFoundation

/// A local folder packaged the way Ray's job SDK does, for `runtime_env.working_dir`.
///
/// Ray's REST API only takes URIs for `working_dir`; the SDK zips a local folder, uploads it
/// to the cluster's package store (`PUT /api/packages/gcs/_ray_pkg_<hash>.zip`) and passes
/// `gcs://_ray_pkg_<hash>.zip`. The name is a hash of the folder's files, so an unchanged folder
/// is uploaded once and every job of it shares the package.
public struct RayWorkingDirectory: Sendable {
    /// The largest folder packaged, in bytes (Ray's own limit for uploads is about 500 MiB).
    static let maxBytes = 256 << 20

    let folder: URL

    /// The local `folder` to package.
    public init(folder: URL) {
        self.folder = folder
    }

    /// `_ray_pkg_<sha256 prefix>.zip`, named after the folder's digest.
    func packageName() throws(RayError) -> String {
        "_ray_pkg_\(try digest().prefix(32)).zip"
    }

    /// SHA-256 (hex) of every file's relative path and contents: the code a job runs, for
    /// lineage and for the cache fingerprint.
    public func digest() throws(RayError) -> String {
        var hash = SHA256()
        var total = 0
        for file in try files() {
            let data: Data
            do {
                data = try Data(contentsOf: folder.appending(path: file))
            } catch {
                throw RayError(
                    .badResponse, "cannot read \(file) in \(folder.path): \(error.localizedDescription)",
                    isRetriable: false)
            }
            total += data.count
            guard total <= Self.maxBytes else {
                throw RayError(
                    .rejected, "working_dir \(folder.path) is larger than \(Self.maxBytes >> 20) MiB",
                    isRetriable: false)
            }
            hash.update(data: Data(file.utf8))
            hash.update(data: Data([0]))
            hash.update(data: data)
        }
        return hash.finalize().lowercaseHex
    }

    /// The zipped folder (files at the archive's root, as Ray expects).
    func zip() throws(RayError) -> Data {
        let archive = FileManager.default.temporaryDirectory.appending(path: "baton-pkg-\(UUID().uuidString).zip")
        defer { try? FileManager.default.removeItem(at: archive) }
        do {
            try FileManager.default.zipItem(at: folder, to: archive, shouldKeepParent: false)
            return try Data(contentsOf: archive)
        } catch {
            throw RayError(
                .badResponse, "cannot zip working_dir \(folder.path): \(error.localizedDescription)", isRetriable: false
            )
        }
    }

    /// Relative paths of the regular files, sorted; caches and hidden files are left out.
    private func files() throws(RayError) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue,
            let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
        else {
            throw RayError(.rejected, "working_dir \(folder.path) is not a readable folder", isRetriable: false)
        }
        var files: [String] = []
        let base = folder.standardizedFileURL.path
        for case let url as URL in walker {
            let name = url.lastPathComponent
            if name.hasPrefix(".") || name == "__pycache__" {
                walker.skipDescendants()
                continue
            }
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            files.append(String(url.standardizedFileURL.path.dropFirst(base.count + 1)))
        }
        return files.sorted()
    }
}
