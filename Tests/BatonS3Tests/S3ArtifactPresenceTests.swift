import BatonCore
import BatonTestEnvironment
import BatonTestSupport
import Crypto
import Foundation
import Testing

@testable import BatonS3

/// The presence check against the local stack's real S3 server (SeaweedFS).
@Suite("S3 artifact presence (real SeaweedFS)", .timeLimit(.minutes(2)))
struct S3ArtifactPresenceTests {
    static func md5(_ bytes: [UInt8]) -> String {
        Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// A fresh prefix in the stack's bucket.
    static func prefix() throws -> S3Location {
        S3Location(bucket: try S3Client.stackBucket(), key: "tests/presence-\(UUID().uuidString.lowercased())")
    }

    @Test("A file: present as recorded, changed in size or content, gone")
    func file() async throws {
        let client = try S3Client.stack()
        let presence = S3ArtifactPresence(client: client)
        let location = S3Location(bucket: try Self.prefix().bucket, key: try Self.prefix().key + "/모델 weights+1.bin")
        let bytes = Array("안녕하세요 baton".utf8)
        try await client.put(location, bytes)

        let object = try #require(try await client.head(location))
        #expect(object.size == Int64(bytes.count))
        #expect(object.contentMD5 == Self.md5(bytes))

        let recorded = JobOutput(name: "w", uri: location.description, md5: Self.md5(bytes), size: Int64(bytes.count))
        #expect(try await presence.problem(with: recorded) == nil)
        var longer = recorded
        longer.size = 999
        #expect(try await presence.problem(with: longer) == "changed: \(bytes.count) B, recorded 999 B")
        var other = recorded
        other.md5 = String(repeating: "0", count: 32)
        #expect(try await presence.problem(with: other)?.hasPrefix("changed: content md5 \(Self.md5(bytes))") == true)

        try await client.delete(location)
        #expect(try await client.head(location) == nil)
        #expect(try await presence.problem(with: recorded) == "gone: no object at this key")
        let checks = ArtifactPresenceChecks([FileArtifactPresence(), presence])
        #expect(try #require(await checks.firstMissing([recorded])).hasSuffix("(gone: no object at this key)"))
    }

    @Test("A folder: its DVC hash from the listing, a lost file, an extra file")
    func folder() async throws {
        let client = try S3Client.stack()
        let presence = S3ArtifactPresence(client: client)
        let root = try Self.prefix()
        let files: [(String, [UInt8])] = [
            ("config.json", Array("{}".utf8)), ("sub/b.txt", Array("b".utf8)), ("a.txt", Array("a".utf8)),
        ]
        for (relpath, bytes) in files {
            try await client.put(S3Location(bucket: root.bucket, key: root.key + "/" + relpath), bytes)
        }
        let digest = DVCFolderDigest.md5(of: files.map { (relpath: $0.0, md5: Self.md5($0.1)) })
        let recorded = JobOutput(name: "model", uri: root.description, md5: digest, size: 4, nfiles: 3)
        #expect(try await presence.problem(with: recorded) == nil)
        #expect(try await client.list(S3Location(bucket: root.bucket, key: root.folderPrefix)).map(\.key).count == 3)

        var wrongHash = recorded
        wrongHash.md5 = "0123456789abcdef0123456789abcdef.dir"
        #expect(try await presence.problem(with: wrongHash)?.hasPrefix("changed: folder hash \(digest)") == true)

        try await client.delete(S3Location(bucket: root.bucket, key: root.key + "/sub/b.txt"))
        #expect(try await presence.problem(with: recorded) == "gone: 2 of 3 recorded files under \(root.key)/")
        try await client.put(S3Location(bucket: root.bucket, key: root.key + "/sub/b.txt"), Array("B".utf8))
        #expect(try await presence.problem(with: recorded)?.hasPrefix("changed: folder hash") == true)
        try await client.put(S3Location(bucket: root.bucket, key: root.key + "/extra"), [1])
        #expect(try await presence.problem(with: recorded) == "changed: 4 of 3 recorded files under \(root.key)/")

        // A folder recorded without hash or count (a job that reported only the URI) is present.
        #expect(try await presence.problem(with: JobOutput(name: "bare", uri: root.description)) == nil)
        let missing = JobOutput(name: "m", uri: "s3://\(root.bucket)/\(root.key)-nothing", md5: digest, nfiles: 3)
        #expect(try await presence.problem(with: missing) == "gone: no object under \(root.key)-nothing/")
    }

    @Test("Listing pages through more keys than one answer holds")
    func paging() async throws {
        let client = try S3Client.stack()
        let root = try Self.prefix()
        // SeaweedFS answers at most 1000 keys per page, as S3 does. Four PUTs at a time: more wait
        // for one of the client's pooled connections, past its connect timeout on a busy host.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<1005 {
                group.addTask {
                    try await client.put(
                        S3Location(bucket: root.bucket, key: "\(root.key)/\(index)"), [UInt8(index % 256)])
                }
                if index >= 3 { try await group.next() }
            }
            try await group.waitForAll()
        }
        #expect(try await client.list(S3Location(bucket: root.bucket, key: root.folderPrefix)).count == 1005)
        await #expect(throws: S3Error.self) {
            try await client.list(S3Location(bucket: root.bucket, key: root.folderPrefix), limit: 10)
        }
    }

    @Test("Refusals are readable: a wrong secret, a missing bucket, no credentials")
    func refusals() async throws {
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_SECRET_ACCESS_KEY"] = "wrong"
        let wrong = S3Client(configuration: S3Configuration(environment: environment), logger: TestStack.logger)
        let location = try Self.prefix()
        do {
            _ = try await wrong.list(location)
            Issue.record("a wrong secret was accepted")
        } catch {
            guard case .refused(403, let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(reason.contains("SignatureDoesNotMatch"), "\(reason)")
        }
        let noBucket = try S3Client.stack()
        do {
            _ = try await noBucket.list(
                S3Location(bucket: "no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())", key: ""))
            Issue.record("a missing bucket was listed")
        } catch {
            guard case .refused(404, let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(reason.contains("NoSuchBucket"), "\(reason)")
        }
        environment["AWS_ACCESS_KEY_ID"] = nil
        let anonymous = S3Client(configuration: S3Configuration(environment: environment), logger: TestStack.logger)
        await #expect(
            throws: S3Error.noCredentials(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE"
            )
        ) {
            try await anonymous.head(location)
        }
    }
}
