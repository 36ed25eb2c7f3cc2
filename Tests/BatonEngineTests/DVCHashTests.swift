import BatonTestSupport
import Foundation
import Testing

@testable import BatonEngine

/// Baton's md5 of local inputs must equal the job helper's (whose DVC compatibility pytest checks).
@Suite("DVC hashes of local inputs")
struct DVCHashTests {
    /// `python3 jobs/baton_job.py hash PATH` → its md5.
    func helperMD5(_ path: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/python3")
        process.arguments = [TestStack.repositoryRoot.appending(path: "jobs/baton_job.py").path, "hash", path.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let info = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(info?["md5"] as? String)
    }

    @Test("Files and folders (nested, non-ASCII and quoted names) hash as the job helper does")
    func matchesTheJobHelper() throws {
        let root = FileManager.default.temporaryDirectory.appending(path: "dvc-hash-\(TestStack.uniqueSuffix())")
        try FileManager.default.createDirectory(at: root.appending(path: "b/깊은"), withIntermediateDirectories: true)
        try "한국어 말뭉치\n".write(to: root.appending(path: "b/깊은/코퍼스.txt"), atomically: true, encoding: .utf8)
        try "a\"b\\c".write(to: root.appending(path: "quote\"d.txt"), atomically: true, encoding: .utf8)
        try Data().write(to: root.appending(path: "B-upper.txt"))
        defer { try? FileManager.default.removeItem(at: root) }

        let file = root.appending(path: "b/깊은/코퍼스.txt")
        #expect(DVCHash.of(file) == (try helperMD5(file)))
        let folder = try #require(DVCHash.of(root))
        #expect(folder.hasSuffix(".dir"))
        #expect(folder == (try helperMD5(root)))
        #expect(DVCHash.of(root.appending(path: "missing")) == nil)
    }

    @Test("Local input URIs resolve against the working_dir; remote ones are not hashed")
    func localFiles() {
        let jobs = URL(filePath: "/srv/jobs")
        #expect(
            RayStageExecutor.localFile("data/corpus.jsonl", workingDirectory: jobs)?.path
                == "/srv/jobs/data/corpus.jsonl")
        #expect(RayStageExecutor.localFile("file:///data/x", workingDirectory: jobs)?.path == "/data/x")
        #expect(RayStageExecutor.localFile("/data/x", workingDirectory: nil)?.path == "/data/x")
        #expect(RayStageExecutor.localFile("s3://bucket/x", workingDirectory: jobs) == nil)
        #expect(RayStageExecutor.localFile("data/x", workingDirectory: nil) == nil)
    }
}
