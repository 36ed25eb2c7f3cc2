import Foundation

/// An object as S3 describes it in a `HEAD` or a listing.
public struct S3Object: Sendable, Hashable {
    /// The object's key.
    public var key: String
    /// Its size in bytes.
    public var size: Int64
    /// Its ETag, without quotes.
    public var etag: String

    /// An object with these fields.
    public init(key: String, size: Int64, etag: String) {
        self.key = key
        self.size = size
        self.etag = etag.trimmingCharacters(in: ["\""])
    }

    /// The md5 of the content when the ETag is one: S3 and S3-compatible stores give an object
    /// written in one `PUT` (unencrypted, or SSE-S3) the hex md5 of its bytes as ETag; a multipart
    /// upload's ETag is `<md5 of the parts' md5s>-<parts>` and says nothing of the content.
    public var contentMD5: String? {
        etag.count == 32 && etag.allSatisfy(\.isHexDigit) ? etag.lowercased() : nil
    }
}
