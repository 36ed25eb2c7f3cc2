import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The SQL lineage API (migrations/0004_lineage_api.sql) and its Swift face, on graphs built with SQL.
@Suite("Lineage SQL API", .timeLimit(.minutes(5)))
struct LineageTests {
    @Test("A diamond's closures list each artifact once at its least depth, both ways")
    func diamondClosures() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let d = try await fixture.diamond()
            #expect(try await fixture.closure(.upstream, of: d.model) == [d.model: 0, d.x: 1, d.y: 1, d.dataset: 2])
            #expect(
                try await fixture.closure(.downstream, of: d.dataset) == [d.dataset: 0, d.x: 1, d.y: 1, d.model: 2])
            #expect(try await fixture.closure(.upstream, of: d.x) == [d.x: 0, d.dataset: 1])
            #expect(try await fixture.closure(.downstream, of: d.model) == [d.model: 0])
            #expect(try await fixture.closure(.upstream, of: 999_999).isEmpty)
        }
    }

    @Test("The depth cap and the node cap are honoured; bounds out of range are refused")
    func caps() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let d = try await fixture.diamond()
            #expect(try await fixture.closure(.upstream, of: d.model, depth: 0) == [d.model: 0])
            #expect(try await fixture.closure(.upstream, of: d.model, depth: 1) == [d.model: 0, d.x: 1, d.y: 1])
            // The cut within a level keeps the first reached: c's inputs by artifact id.
            #expect(try await fixture.closure(.upstream, of: d.model, nodes: 2) == [d.model: 0, d.x: 1])
            #expect(try await fixture.closure(.downstream, of: d.dataset, nodes: 3) == [d.dataset: 0, d.x: 1, d.y: 1])
            await #expect(throws: PSQLError.self) {
                try await fixture.closure(.upstream, of: d.model, depth: -1)
            }
            await #expect(throws: PSQLError.self) {
                try await fixture.closure(.upstream, of: d.model, nodes: 0)
            }
            #expect(LineageBounds(maxDepth: 1001, maxNodes: 10) == nil)
            #expect(LineageBounds(maxDepth: 3, maxNodes: 0) == nil)
        }
    }

    @Test("A level wider than the node cap is cut in walk order (attempt id, then artifact id), the same each time")
    func cutInWalkOrder() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let run = try await fixture.run(stages: ["early", "late"])
            let dataset = try await fixture.artifact("s3://data/corpus", md5: "c0c0.dir", kind: "dataset")
            // Made in id order low, middle, high; the attempt with the lower id wrote the higher two.
            let low = try await fixture.artifact("s3://baton/low", md5: "l0")
            let middle = try await fixture.artifact("s3://baton/middle", md5: "m0")
            let high = try await fixture.artifact("s3://baton/high", md5: "h0")
            let first = try await fixture.attempt(
                run: run, stage: "late", id: UUID(uuidString: "00000000-0000-4000-8000-000000000001")!)
            let second = try await fixture.attempt(
                run: run, stage: "early", id: UUID(uuidString: "ffffffff-0000-4000-8000-000000000001")!)
            try await fixture.reads(first, "corpus", dataset)
            try await fixture.reads(second, "corpus", dataset)
            try await fixture.writes(second, "tokens", low)
            try await fixture.writes(first, "b", high)
            try await fixture.writes(first, "a", middle)
            let cut = [dataset: 0, middle: 1, high: 1]
            #expect(try await fixture.closure(.downstream, of: dataset, nodes: 3) == cut)
            #expect(try await fixture.closure(.downstream, of: dataset, nodes: 3) == cut)
            #expect(try await fixture.closure(.downstream, of: dataset, nodes: 2) == [dataset: 0, middle: 1])
            #expect(try await fixture.closure(.downstream, of: dataset) == [dataset: 0, low: 1, middle: 1, high: 1])
        }
    }

    @Test("A walk whose first window holds mostly visited artifacts widens it and still fills the cap")
    func cutAfterWideningTheWindow() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let run = try await fixture.run(stages: ["fan"])
            let dataset = try await fixture.artifact("s3://data/corpus", md5: "c0c0.dir", kind: "dataset")
            // Ten readers of the dataset, each writing the same three shared artifacts (made first,
            // so reached first) and one of its own. With a cap of 11 the first window (20 edges,
            // five readers) holds 8 new artifacts; the walk widens and fills the cap in walk order.
            var shared: [Int64] = []
            for index in 0..<3 {
                shared.append(try await fixture.artifact("s3://baton/shared-\(index)", md5: "s\(index)"))
            }
            var own: [Int64] = []
            for index in 0..<10 {
                let id = UUID(uuidString: "00000000-0000-4000-8000-\(String(format: "%012d", index))")!
                let reader = try await fixture.attempt(run: run, stage: "fan", number: index + 1, id: id)
                try await fixture.reads(reader, "corpus", dataset)
                for (port, artifact) in shared.enumerated() {
                    try await fixture.writes(reader, "shared\(port)", artifact)
                }
                let mine = try await fixture.artifact("s3://baton/own-\(index)", md5: "o\(index)")
                try await fixture.writes(reader, "own", mine)
                own.append(mine)
            }
            var expected = [dataset: 0]
            for artifact in shared + own.prefix(7) { expected[artifact] = 1 }
            #expect(try await fixture.closure(.downstream, of: dataset, nodes: 11) == expected)
            #expect(try await fixture.closure(.downstream, of: dataset).count == 14)
        }
    }

    @Test("Runs sharing datasets: closures stay within a run upstream and span runs downstream")
    func sharedDatasets() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let corpus = try await fixture.artifact("s3://data/corpus", md5: "c0c0.dir", kind: "dataset")
            let vocab = try await fixture.artifact("s3://data/vocab", md5: "v0v0")
            // The same content copied elsewhere: a second URI at the same hash.
            let copy = try await fixture.artifact("file:///mirror/corpus", md5: "c0c0.dir", kind: "dataset")
            var models: [Int64] = []
            var runs: [UUID] = []
            for (index, source) in [corpus, corpus, copy].enumerated() {
                let run = try await fixture.run(stages: ["train"], createdSecondsAgo: Double(100 - index))
                let train = try await fixture.attempt(run: run, stage: "train")
                try await fixture.reads(train, "corpus", source)
                try await fixture.reads(train, "vocab", vocab)
                let model = try await fixture.artifact("s3://models/\(index)", md5: "m\(index)")
                try await fixture.writes(train, "model", model)
                models.append(model)
                runs.append(run)
            }
            #expect(try await fixture.closure(.upstream, of: models[1]) == [models[1]: 0, corpus: 1, vocab: 1])
            #expect(
                try await fixture.closure(.downstream, of: vocab) == [
                    vocab: 0, models[0]: 1, models[1]: 1, models[2]: 1,
                ])

            let reads = try await store.lineage.reads(ofMD5: "c0c0.dir")
            #expect(reads.map(\.runId) == runs.map(\.lowercased))
            #expect(reads.map(\.artifact.uri) == ["s3://data/corpus", "s3://data/corpus", "file:///mirror/corpus"])
            #expect(reads.allSatisfy { $0.input == "corpus" && $0.stage == "train" && $0.runState == .succeeded })
            #expect(try await store.lineage.reads(ofMD5: "nothing").isEmpty)

            let graph = try await store.lineage.lineage(of: [vocab], direction: .downstream)
            #expect(graph.nodes.map(\.artifact.id) == [vocab] + models)
            #expect(graph.steps.count == 3)
            #expect(
                graph.steps.allSatisfy { $0.inputs.map(\.name) == ["vocab"] && $0.outputs.map(\.name) == ["model"] })
        }
    }

    @Test("The graph of a diamond names each attempt with the edges inside the closure")
    func graph() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let d = try await fixture.diamond()
            #expect(try await store.lineage.artifact(uri: "file:///art/model")?.id == d.model)
            #expect(try await store.lineage.artifact(uri: "file:///nowhere") == nil)
            #expect(try await store.lineage.finalOutputs(ofRun: d.run).map(\.id) == [d.model])
            let graph = try await store.lineage.lineage(of: [d.model], direction: .upstream)
            #expect(graph.roots == [d.model])
            #expect(graph.nodes.map(\.depth) == [0, 1, 1, 2])
            let byStage = Dictionary(uniqueKeysWithValues: graph.steps.map { ($0.stage, $0) })
            #expect(byStage.keys.sorted() == ["a", "b", "c"])
            #expect(
                byStage["c"]?.inputs == [
                    LineagePort(name: "left", artifactId: d.x), .init(name: "right", artifactId: d.y),
                ])
            #expect(byStage["c"]?.codeDigest == "sha256:c")
            #expect(byStage["a"]?.outputs == [LineagePort(name: "x", artifactId: d.x)])
            // Depth 1 keeps the producer of the root but drops inputs beyond the cap.
            let shallow = try await store.lineage.lineage(
                of: [d.model], direction: .upstream, bounds: LineageBounds(maxDepth: 1, maxNodes: 100)!)
            #expect(shallow.nodes.count == 3)
            #expect(shallow.steps.first { $0.stage == "a" }?.inputs == [])
            await #expect(throws: StoreError.self) { try await store.lineage.finalOutputs(ofRun: UUID()) }
        }
    }

    @Test("Provenance: datasets, attempts with params and last metrics, GPU-seconds, a cache hit as its original")
    func provenance() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let corpus = try await fixture.artifact("s3://data/corpus", md5: "c0c0.dir", kind: "dataset")
            let base = try await fixture.artifact("s3://hub/base-model", md5: "b0b0.dir")
            // Run 1: prepare (CPU) -> train (2 GPUs, 30 s of Ray time).
            let first = try await fixture.run(stages: ["prepare", "train"], createdSecondsAgo: 60)
            let prepare = try await fixture.attempt(
                run: first, stage: "prepare", raySeconds: 10, codeDigest: "sha256:p")
            let tokens = try await fixture.artifact("s3://baton/1/prepare/tokens", md5: "t0t0.dir", kind: "dataset")
            try await fixture.reads(prepare, "corpus", corpus)
            try await fixture.writes(prepare, "tokens", tokens)
            try await fixture.param(prepare, "max_len", json: "512")
            // A failed first try of train, then the one that produced the model.
            try await fixture.attempt(run: first, stage: "train", state: "failed", gpus: 2, raySeconds: 5)
            let train = try await fixture.attempt(
                run: first, stage: "train", number: 2, gpus: 2, raySeconds: 30, codeDigest: "sha256:t")
            let model = try await fixture.artifact("s3://baton/1/train/model", md5: "m0m0.dir", kind: "model")
            try await fixture.reads(train, "tokens", tokens)
            try await fixture.reads(train, "base", base)
            try await fixture.writes(train, "model", model)
            try await fixture.param(train, "learning_rate", json: "0.0002")
            try await fixture.param(train, "profile", json: "\"tiny\"")
            try await fixture.metric(train, "loss", step: 0, 2.5)
            try await fixture.metric(train, "loss", step: 9, 0.75)
            try await fixture.metric(train, "accuracy", step: 9, 0.9)
            // Run 2 is served from the cache: its attempts reused run 1's outputs.
            let second = try await fixture.run(stages: ["prepare", "train", "evaluate"])
            let prepareHit = try await fixture.attempt(run: second, stage: "prepare", cachedFrom: prepare)
            try await fixture.reads(prepareHit, "corpus", corpus)
            try await fixture.writes(prepareHit, "tokens", tokens)
            let trainHit = try await fixture.attempt(run: second, stage: "train", cachedFrom: train)
            try await fixture.reads(trainHit, "tokens", tokens)
            try await fixture.reads(trainHit, "base", base)
            try await fixture.writes(trainHit, "model", model)
            let evaluate = try await fixture.attempt(run: second, stage: "evaluate", gpus: 1, raySeconds: 4)
            let report = try await fixture.artifact("s3://baton/2/evaluate/report", md5: "r0r0")
            try await fixture.reads(evaluate, "model", model)
            try await fixture.writes(evaluate, "report", report)
            try await fixture.metric(evaluate, "accuracy", step: 0, 0.88)

            let provenance = try #require(try await store.lineage.provenance(of: report))
            #expect(provenance.artifact.uri == "s3://baton/2/evaluate/report")
            // Declared datasets (corpus, tokens) and the one nobody in Baton produced (base).
            #expect(provenance.datasets.map(\.artifactId) == [base, tokens, corpus])
            #expect(provenance.datasets.map(\.depth) == [2, 2, 3])
            #expect(provenance.attempts.map(\.stage) == ["evaluate", "train", "prepare"])
            #expect(provenance.attempts.map(\.attemptId) == [evaluate, train, prepare].map(\.lowercased))
            #expect(provenance.attempts[1].reusedBy == [trainHit.lowercased])
            #expect(provenance.attempts[2].reusedBy == [prepareHit.lowercased])
            let trained = provenance.attempts[1]
            #expect(trained.codeDigest == "sha256:t")
            #expect(trained.params == ["learning_rate": .double(0.0002), "profile": .string("tiny")])
            #expect(trained.metrics == ["loss": 0.75, "accuracy": 0.9])
            #expect(trained.gpuSeconds == 60)
            #expect(trained.runId == first.lowercased && trained.attempt == 2)
            // 2 GPUs x 30 s for train, 1 x 4 s for evaluate; the failed try and the cache hits add nothing.
            #expect(provenance.gpuSeconds == 64)
            #expect(try await store.lineage.provenance(of: 424_242) == nil)
        }
    }

    @Test("The audit query in docs/lineage.md returns the datasets, params and metrics behind a run's final output")
    func documentedQuery() async throws {
        let markdown = try String(
            contentsOf: TestStack.repositoryRoot.appending(path: "docs/lineage.md"), encoding: .utf8)
        let marker = "<!-- tested: final-output-provenance -->"
        let block = try #require(markdown.components(separatedBy: marker).dropFirst().first)
        let sql = try #require(
            block.components(separatedBy: "```sql\n").dropFirst().first?.components(separatedBy: "```").first)
        #expect(sql.contains(":'run_id'"))
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let d = try await fixture.diamond()
            try await fixture.param(d.a, "lr", json: "0.1")
            try await fixture.metric(d.c, "accuracy", step: 0, 0.5)
            try await fixture.metric(d.c, "accuracy", step: 1, 0.8)
            // The document's query, as written, read as text columns.
            let documented = sql.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: [";"])
                .replacingOccurrences(of: ":'run_id'", with: "$1")
            let query = "SELECT q.uri, q.datasets::text, q.stages::text FROM (\(documented)) q"
            var binds = PostgresBindings()
            binds.append(d.run)
            let rows = try await store.client.query(PostgresQuery(unsafeSQL: query, binds: binds))
            var outputs: [String] = []
            for try await row in rows {
                let columns = row.makeRandomAccess()
                outputs.append(try columns[0].decode(String.self))
                let datasets = try columns[1].decode(String.self)
                let stages = try columns[2].decode(String.self)
                #expect(datasets.contains("file:///data/corpus") && datasets.contains("d0d0.dir"))
                let decoded = try JSONDecoder().decode([[String: JSONValue]].self, from: Data(stages.utf8))
                let byStage = Dictionary(uniqueKeysWithValues: decoded.map { ($0["stage"]?.plainText ?? "", $0) })
                #expect(byStage.keys.sorted() == ["a", "b", "c"])
                #expect(byStage["a"]?["params"] == .object(["lr": .double(0.1)]))
                #expect(byStage["c"]?["metrics"] == .object(["accuracy": .double(0.8)]))
                #expect(byStage["c"]?["code_digest"] == .string("sha256:c"))
            }
            #expect(outputs == ["file:///art/model"])
        }
    }
}
