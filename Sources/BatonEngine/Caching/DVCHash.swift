import BatonCore
import Crypto
import Foundation

/// DVC's content hashes of local files and folders, computed by Baton for inputs that no stage
/// produced (a param naming a dataset), so that lineage and the cache know their content.
///
/// A file's hash is the md5 of its bytes; a folder's is the md5 of
/// `json.dumps([{"md5": ..., "relpath": ...}, ...], sort_keys=True)` over its files sorted by
/// relative path, with `.dir` appended — as DVC 3 and `jobs/baton_job.py` compute them.
enum DVCHash {
    /// The most bytes hashed for one input; a larger one keeps no hash (and its URI stands in).
    static let maxBytes: Int64 = 512 << 20

    /// The hash of a local file or folder; `nil` when it does not exist, cannot be read or is
    /// larger than `maxBytes`.
    static func of(_ url: URL) -> String? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return nil }
        var budget = maxBytes
        return isFolder.boolValue ? folderMD5(url, budget: &budget) : fileMD5(url, budget: &budget)
    }

    private static func fileMD5(_ url: URL, budget: inout Int64) -> String? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        var hash = Insecure.MD5()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            budget -= Int64(chunk.count)
            guard budget >= 0 else { return nil }
            hash.update(data: chunk)
        }
        return hash.finalize().lowercaseHex
    }

    private static func folderMD5(_ root: URL, budget: inout Int64) -> String? {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        else { return nil }
        let base = root.standardizedFileURL.path
        var files: [(relpath: String, md5: String)] = []
        for case let url as URL in walker
        where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            guard let md5 = fileMD5(url, budget: &budget) else { return nil }
            files.append((String(url.standardizedFileURL.path.dropFirst(base.count + 1)), md5))
        }
        return DVCFolderDigest.md5(of: files)
    }
}
