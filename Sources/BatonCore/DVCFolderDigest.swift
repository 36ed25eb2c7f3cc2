import Crypto
import Foundation

/// DVC's hash of a folder from its files' hashes: the md5 of
/// `json.dumps([{"md5": ..., "relpath": ...}, ...], sort_keys=True)` over the files sorted by
/// relative path (code point order, as Python sorts), with `.dir` appended — as DVC 3 and
/// `jobs/baton_job.py` compute it. Baton computes it over local files and over S3 listings.
public enum DVCFolderDigest {
    /// The `.dir` hash of a folder whose files have these relative paths and md5s.
    public static func md5(of files: [(relpath: String, md5: String)]) -> String {
        let sorted = files.sorted { $0.relpath.unicodeScalars.lexicographicallyPrecedes($1.relpath.unicodeScalars) }
        let entries = sorted.map { "{\"md5\": \"\($0.md5)\", \"relpath\": \(pythonJSONString($0.relpath))}" }
        let payload = "[" + entries.joined(separator: ", ") + "]"
        return Insecure.MD5.hash(data: Data(payload.utf8)).lowercaseHex + ".dir"
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
