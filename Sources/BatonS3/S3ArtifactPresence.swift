import BatonCore

/// `s3://` artifacts, checked against what the job recorded: a file by `HEAD` (size, and the
/// content md5 when the ETag is one), a folder by listing its prefix (file count, total size,
/// and DVC's `.dir` hash recomputed from the ETags when every one is an md5).
public struct S3ArtifactPresence: ArtifactPresence {
    private let client: S3Client

    /// Checks through `client`.
    public init(client: S3Client) {
        self.client = client
    }

    /// `s3` only.
    public var schemes: Set<String> { ["s3"] }

    /// What is wrong with `output` in the store; `nil` when it is there as recorded.
    public func problem(with output: JobOutput) async throws -> String? {
        guard let location = S3Location(uri: output.uri), !location.key.isEmpty else {
            return "not an s3://bucket/key URI"
        }
        if output.md5?.hasSuffix(".dir") == true || (output.nfiles ?? 1) > 1 {
            return try await folderProblem(output, at: location)
        }
        guard let object = try await client.head(location) else {
            // An output recorded without a hash may be a folder.
            if output.md5 == nil, try await client.hasObjects(under: location.asFolder) { return nil }
            return "gone: no object at this key"
        }
        if let size = output.size, size != object.size {
            return "changed: \(object.size) B, recorded \(size) B"
        }
        if client.configuration.verifiesETag, let recorded = output.md5, let now = object.contentMD5, now != recorded {
            return "changed: content md5 \(now), recorded \(recorded)"
        }
        return nil
    }

    private func folderProblem(_ output: JobOutput, at location: S3Location) async throws -> String? {
        let prefix = location.asFolder
        let objects = try await client.list(prefix).filter { !$0.key.hasSuffix("/") }
        guard !objects.isEmpty else { return "gone: no object under \(prefix.key)" }
        if let nfiles = output.nfiles, nfiles != objects.count {
            let verb = objects.count < nfiles ? "gone" : "changed"
            return "\(verb): \(objects.count) of \(nfiles) recorded files under \(prefix.key)"
        }
        let total = objects.reduce(Int64(0)) { $0 + $1.size }
        if let size = output.size, size != total {
            return "changed: \(total) B under \(prefix.key), recorded \(size) B"
        }
        let hashes = objects.compactMap { object in
            object.contentMD5.map { (relpath: String(object.key.dropFirst(prefix.key.count)), md5: $0) }
        }
        if client.configuration.verifiesETag, let recorded = output.md5, hashes.count == objects.count {
            let now = DVCFolderDigest.md5(of: hashes)
            if now != recorded { return "changed: folder hash \(now), recorded \(recorded)" }
        }
        return nil
    }
}

extension S3Location {
    /// This key as a folder: `key/`.
    fileprivate var asFolder: S3Location { S3Location(bucket: bucket, key: folderPrefix) }
}
