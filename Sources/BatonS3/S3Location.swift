/// An object or a prefix in S3, parsed from an `s3://bucket/key` URI.
public struct S3Location: Sendable, Hashable, CustomStringConvertible {
    /// The bucket.
    public var bucket: String
    /// The key (no leading `/`); empty for the bucket itself.
    public var key: String

    /// A location in `bucket` at `key`.
    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// Parses `s3://bucket/key`; `nil` for another scheme, no bucket, or a bucket name S3 would
    /// refuse (3–63 characters of lower-case letters, digits, `.` and `-`).
    public init?(uri: String) {
        let scheme = "s3://"
        guard uri.lowercased().hasPrefix(scheme) else { return nil }
        let rest = uri.dropFirst(scheme.count)
        let bucket = rest.prefix { $0 != "/" }
        guard (3...63).contains(bucket.count),
            bucket.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "." || $0 == "-" })
        else { return nil }
        self.bucket = String(bucket)
        self.key = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
    }

    /// `s3://bucket/key`.
    public var description: String { "s3://\(bucket)/\(key)" }

    /// The key as a folder prefix: `key/` (empty for the bucket).
    public var folderPrefix: String { key.isEmpty || key.hasSuffix("/") ? key : key + "/" }
}
