import BatonCore
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

    @Test("Local inputs are hashed only inside the roots, symlinks resolved; remote ones never")
    func hashableInputs() throws {
        let base = FileManager.default.temporaryDirectory.appending(path: "paths-\(TestStack.uniqueSuffix())")
        let jobs = base.appending(path: "jobs")
        let data = base.appending(path: "data")
        let artifacts = base.appending(path: "artifacts")
        for folder in [jobs.appending(path: "code"), data, artifacts] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: base) }
        // A link inside the jobs root to a folder outside every root.
        try FileManager.default.createSymbolicLink(
            at: jobs.appending(path: "code/escape"), withDestinationURL: URL(filePath: "/etc"))
        let paths = LocalPaths(
            policy: LocalPathPolicy(jobsRoot: jobs, dataRoots: [data]), artifactRoot: "file://" + artifacts.path)
        let code = try #require(try paths.workingDirectory("code"))
        let real = { (url: URL) in url.resolvingSymlinksInPath().path }

        #expect(paths.hashable("corpus.jsonl", workingDirectory: code)?.path == real(code) + "/corpus.jsonl")
        #expect(paths.hashable("file://\(data.path)/x", workingDirectory: code)?.path == real(data) + "/x")
        #expect(
            paths.hashable("\(artifacts.path)/run/out", workingDirectory: nil)?.path == real(artifacts) + "/run/out")
        #expect(paths.hashable("/", workingDirectory: code) == nil)
        #expect(paths.hashable("file:///etc/passwd", workingDirectory: code) == nil)
        #expect(paths.hashable("escape/passwd", workingDirectory: code) == nil, "a link out of the roots")
        #expect(paths.hashable("../../../etc/passwd", workingDirectory: code) == nil)
        #expect(paths.hashable("s3://bucket/x", workingDirectory: code) == nil)
        #expect(paths.hashable("data/x", workingDirectory: nil) == nil)

        #expect(throws: PathRefusal.self) { try paths.workingDirectory("code/escape") }
        #expect(throws: PathRefusal.self) { try paths.workingDirectory("/etc") }
        #expect(try paths.workingDirectory("gcs://bucket/code.zip") == nil)
    }
}
