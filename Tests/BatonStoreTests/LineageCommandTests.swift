import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// `baton lineage` and `baton export dvc`, run as a user runs them, on graphs built with SQL.
@Suite("baton lineage and export dvc", .timeLimit(.minutes(5)))
struct LineageCommandTests {
    /// Runs the debug `baton` (or `BATON_BIN`) against `database`; returns its exit status and stdout.
    func baton(_ arguments: [String], database: ScratchDatabase) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = TestStack.batonBinary
        process.arguments = arguments + ["--database-url", database.url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("The upstream tree of a run's final output prints each artifact once, with md5s")
    func tree() async throws {
        let database = try await ScratchDatabase.create()
        let diamond = try await database.withStore { try await LineageFixture(store: $0).diamond() }
        let (status, output) = try baton(["lineage", diamond.run.lowercased], database: database)
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.first == "file:///art/model  md5 cccc.dir  model  2 files")
        #expect(
            lines.contains { $0.hasPrefix("   <- c #1  run \(diamond.run.lowercased.prefix(8))  train  succeeded") })
        #expect(lines.contains("      <- left: file:///art/x  md5 aaaa  file"))
        #expect(lines.contains("            <- corpus: file:///data/corpus  md5 d0d0.dir  dataset  3 files"))
        #expect(lines.contains("            <- corpus: file:///data/corpus  (see above)"))
        #expect(output.components(separatedBy: "md5 d0d0.dir").count == 2, "the dataset is expanded once")
        #expect(lines.last == "4 artifacts, 3 attempts upstream (depth <= 20, <= 10000 artifacts per root)")
    }

    @Test("--down --json prints the downstream closure as JSON; --depth caps it; unknown targets fail")
    func json() async throws {
        let database = try await ScratchDatabase.create()
        let diamond = try await database.withStore { try await LineageFixture(store: $0).diamond() }
        let (status, output) = try baton(
            ["lineage", "file:///data/corpus", "--down", "--json", "--depth", "1"], database: database)
        #expect(status == 0, "\(output)")
        let graph = try JSONDecoder().decode(LineageGraph.self, from: Data(output.utf8))
        #expect(graph.direction == .downstream)
        #expect(graph.roots == [diamond.dataset])
        #expect(graph.nodes.map(\.artifact.id) == [diamond.dataset, diamond.x, diamond.y])
        #expect(Set(graph.steps.map(\.stage)) == ["a", "b"])
        #expect(graph.bounds == LineageBounds(maxDepth: 1, maxNodes: 10_000))

        let provenance = try baton(["lineage", "file:///art/model", "--provenance", "--json"], database: database)
        #expect(provenance.status == 0, "\(provenance.output)")
        let documents = try JSONDecoder().decode([ArtifactProvenance].self, from: Data(provenance.output.utf8))
        #expect(documents.first?.datasets.map(\.uri) == ["file:///data/corpus"])
        #expect(documents.first?.attempts.map(\.stage) == ["c", "a", "b"])

        #expect(try baton(["lineage", "file:///nowhere"], database: database).status == 1)
        #expect(try baton(["lineage", "file:///art/model", "--depth", "-1"], database: database).status != 0)
    }

    @Test("export dvc writes one stage per executed stage with cmd, deps and outs, and a 2.0 lock with hashes")
    func exportDVC() async throws {
        let database = try await ScratchDatabase.create()
        let diamond = try await database.withStore { store in
            let fixture = LineageFixture(store: store)
            let diamond = try await fixture.diamond()
            try await store.client.query(
                "UPDATE artifacts SET size = 2048 WHERE id = \(diamond.model)")
            return diamond
        }
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-dvc-\(TestStack.uniqueSuffix())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try baton(
            ["export", "dvc", diamond.run.lowercased, "--out", folder.path], database: database)
        #expect(status == 0, "\(output)")
        #expect(output.contains("file:// paths are relative to /"))
        let yaml = try String(contentsOf: folder.appending(path: "dvc.yaml"), encoding: .utf8)
        #expect(
            yaml == """
                stages:
                  "a":
                    cmd: "python a.py"
                    deps:
                    - "data/corpus"
                    outs:
                    - "art/x"
                  "b":
                    cmd: "python b.py"
                    deps:
                    - "data/corpus"
                    outs:
                    - "art/y"
                  "c":
                    cmd: "python c.py"
                    deps:
                    - "art/x"
                    - "art/y"
                    outs:
                    - "art/model"

                """)
        let lock = try String(contentsOf: folder.appending(path: "dvc.lock"), encoding: .utf8)
        #expect(lock.hasPrefix("schema: '2.0'\nstages:\n  \"a\":\n    cmd: \"python a.py\"\n    deps:\n"))
        #expect(
            lock.contains(
                """
                    outs:
                    - path: "art/model"
                      hash: md5
                      md5: "cccc.dir"
                      size: 2048
                      nfiles: 2
                """))
        #expect(
            lock.contains("    - path: \"data/corpus\"\n      hash: md5\n      md5: \"d0d0.dir\"\n      nfiles: 3\n"))
        #expect(try baton(["export", "dvc", UUID().uuidString, "--out", folder.path], database: database).status == 1)
    }
}
