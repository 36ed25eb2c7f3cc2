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
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private static func folderMD5(_ root: URL, budget: inout Int64) -> String? {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        else { return nil }
        let base = root.standardizedFileURL.path
        var files: [(relpath: String, url: URL)] = []
        for case let url as URL in walker
        where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            files.append((String(url.standardizedFileURL.path.dropFirst(base.count + 1)), url))
        }
        // Python sorts by code point.
        files.sort { $0.relpath.unicodeScalars.lexicographicallyPrecedes($1.relpath.unicodeScalars) }
        var entries: [String] = []
        for file in files {
            guard let md5 = fileMD5(file.url, budget: &budget) else { return nil }
            entries.append("{\"md5\": \"\(md5)\", \"relpath\": \(pythonJSONString(file.relpath))}")
        }
        let payload = "[" + entries.joined(separator: ", ") + "]"
        return Insecure.MD5.hash(data: Data(payload.utf8)).map { String(format: "%02x", $0) }.joined() + ".dir"
    }

    /// A string as Python's `json.dumps` writes it (ASCII only, `\uXXXX` escapes).
    static func pythonJSONString(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        return out + "\""
    }
}
