import BatonCore
import Foundation
import Testing

@testable import BatonRay

@Suite("working_dir packaging")
struct RayWorkingDirectoryTests {
    func folder(_ files: [String: String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appending(path: "pkg-\(UUID().uuidString)")
        for (path, text) in files {
            let url = root.appending(path: path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test("The package name follows the content; caches and hidden files do not count")
    func contentAddressed() throws {
        let a = RayWorkingDirectory(folder: try folder(["job.py": "print(1)", "lib/util.py": "x = 1"]))
        let b = RayWorkingDirectory(
            folder: try folder([
                "job.py": "print(1)", "lib/util.py": "x = 1", "__pycache__/job.pyc": "junk", ".git/HEAD": "ref",
            ]))
        let c = RayWorkingDirectory(folder: try folder(["job.py": "print(2)", "lib/util.py": "x = 1"]))
        #expect(try a.packageName() == b.packageName())
        #expect(try a.packageName() != c.packageName())
        #expect(try a.packageName().wholeMatch(of: /_ray_pkg_[0-9a-f]{32}\.zip/) != nil)
        let zip = try a.zip()
        #expect(zip.prefix(2) == Data("PK".utf8))
    }

    @Test("A missing folder is a clear error")
    func missing() {
        let error = #expect(throws: RayError.self) {
            try RayWorkingDirectory(folder: URL(filePath: "/no/such/folder")).packageName()
        }
        #expect(error?.reason.contains("/no/such/folder") == true)
    }
}
