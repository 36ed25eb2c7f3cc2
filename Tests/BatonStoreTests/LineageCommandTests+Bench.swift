import BatonCore
import BatonStore
import BatonTestSupport
import Foundation
import Testing

extension LineageCommandTests {
    @Test("baton bench lineage builds a graph in a scratch database, times the lineage API, and drops it")
    func benchLineage() async throws {
        let database = try await ScratchDatabase.create()
        let process = Process()
        process.executableURL = TestStack.batonBinary
        process.arguments = [
            "bench", "lineage", "--artifacts", "10000", "--edges", "30000", "--samples", "10", "--database-url",
            database.url,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["BATON_MIGRATIONS_DIR"] = TestStack.migrations.path
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(String(decoding: data, as: UTF8.self))")
        let report = try JSONDecoder().decode(JSONValue.self, from: data)
        // The number at `path` in the report.
        func figure(_ path: String...) -> Double? {
            var value: JSONValue? = report
            for key in path {
                guard case .object(let object) = value else { return nil }
                value = object[key]
            }
            return value?.numberValue
        }

        let runs = try #require(figure("graph", "runs"))
        // 2 % root datasets, 16 artifacts per run: what the generator wrote is what the table holds.
        #expect(figure("graph", "artifacts") == 200 + runs * 16)
        #expect((figure("graph", "sizes", "artifacts", "rows") ?? 0) >= 200 + runs * 16)
        for timing in ["upstream_closure_ms", "model_provenance_ms"] {
            #expect(figure(timing, "count") == 10)
            #expect((figure(timing, "p95") ?? 0) > 0, "\(timing)")
        }
        #expect(figure("record_stage_lineage_ms", "both", "count") == 10)
        #expect((figure("upstream_closure_nodes", "p50") ?? 0) > 30, "a final artifact's closure reaches its shards")
        guard case .object(let top) = report, case .string(let name) = top["database"], name.hasSuffix(" (dropped)")
        else {
            Issue.record("the scratch database is not reported dropped: \(report)")
            return
        }
        // Dropped: the name is free again.
        let scratch = try SQLIdentifier(String(name.dropLast(" (dropped)".count)))
        try await database.withStore { store in
            try await store.createDatabase(scratch)
            try await store.dropDatabase(scratch)
        }
    }

    @Test("baton bench lineage refuses sizes it cannot generate, saying which range works")
    func benchLineageRefusesSizes() async throws {
        let database = try await ScratchDatabase.create(migrate: false)
        let (status, output) = try baton(["bench", "lineage", "--edges", "10"], database: database)
        #expect(status != 0)
        #expect(output.contains("--edges gives 0 edges per run; use between"), "\(output)")
    }
}
