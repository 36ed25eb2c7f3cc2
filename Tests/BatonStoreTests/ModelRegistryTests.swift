import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The model registry's transactions (migrations/0006, 0008; BatonStore+Registry) on a real database.
@Suite("Model registry in PostgreSQL", .timeLimit(.minutes(3)))
struct ModelRegistryTests {
    static let register = RegisterSpec(model: "ko-llm", stage: "train", output: "model")

    /// A run whose `train` attempt produced `model` (with metrics), and a claimed attempt of its
    /// `register` stage.
    struct Registrable {
        var run: UUID
        var artifact: Int64
        var claim: ClaimedAttempt
    }

    func registrable(_ store: BatonStore, loss: Double = 0.5, attempts: Int = 1) async throws -> Registrable {
        let fixture = LineageFixture(store: store)
        let run = try await fixture.run(stages: ["prepare", "train", "register"])
        let prepare = try await fixture.attempt(run: run, stage: "prepare")
        try await fixture.metric(prepare, "rows", step: 0, 1000)
        // A failed first try of train, whose metrics must not count.
        let failed = try await fixture.attempt(run: run, stage: "train", state: "failed")
        try await fixture.metric(failed, "loss", step: 0, 9)
        let train = try await fixture.attempt(run: run, stage: "train", number: 2)
        try await fixture.metric(train, "loss", step: 0, 2)
        try await fixture.metric(train, "loss", step: 1, loss)
        let artifact = try await fixture.artifact(
            "file:///models/\(run.lowercased)", md5: "\(run.lowercased.prefix(8)).dir", kind: "model")
        try await fixture.writes(train, "model", artifact)
        return Registrable(run: run, artifact: artifact, claim: try await claimRegister(store, run: run, attempt: 1))
    }

    /// Queues attempt `attempt` of the run's register stage and claims it.
    func claimRegister(_ store: BatonStore, run: UUID, attempt: Int) async throws -> ClaimedAttempt {
        let id = UUID()
        try await store.client.query(
            """
            INSERT INTO stage_attempts (id, run_id, stage, attempt, state, pool, timeout_ms, kind)
            VALUES (\(id), \(run), 'register', \(attempt), 'queued', 'default', 60000, 'register')
            """)
        return try #require(try await store.attempts.claimAttempt(id, owner: "test", lease: .seconds(30)))
    }

    func registered(_ outcome: RegistrationOutcome) throws -> Registration {
        guard case .registered(let registration) = outcome else {
            Issue.record("expected a registration, got \(outcome)")
            throw TestPreconditionFailed()
        }
        return registration
    }

    func count(_ store: BatonStore, _ query: PostgresQuery) async throws -> Int {
        for try await value in try await store.client.query(query).decode(Int.self) { return value }
        return 0
    }

    @Test("Runs registering at once get versions 1...N without gaps, each with its artifact and metrics")
    func concurrentVersions() async throws {
        try await ScratchDatabase.create().withStore { store in
            var runs: [Registrable] = []
            for index in 0..<8 { runs.append(try await registrable(store, loss: Double(index) / 10)) }
            let registrations = try await withThrowingTaskGroup(of: (Registrable, Registration).self) { group in
                for run in runs {
                    group.addTask {
                        (
                            run,
                            try registered(
                                try await store.registry.register(
                                    run.claim, Self.register, upstreamStages: ["prepare", "train"]))
                        )
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(registrations.map(\.1.version).sorted() == Array(1...8))
            #expect(registrations.allSatisfy { $0.1.isNew && $0.1.move?.move == .register })
            let view = try #require(try await store.registry.model("ko-llm"))
            #expect(view.versions.map(\.version) == Array((1...8).reversed()))
            for (run, registration) in registrations {
                let version = try #require(view.versions.first { $0.version == registration.version })
                let index = try #require(runs.firstIndex { $0.run == run.run })
                let loss = Double(index) / 10
                #expect(version.runId == run.run.lowercased)
                #expect(version.artifactId == run.artifact)
                #expect(version.artifactUri == "file:///models/\(run.run.lowercased)")
                #expect(version.metrics == ["prepare": ["rows": 1000], "train": ["loss": loss]])
            }
            // The alias moved once per registration, each move from the version before it.
            let moves = view.aliasEvents.reversed().map { ($0.fromVersion, $0.toVersion) }
            #expect(moves.count == 8)
            for (previous, next) in zip(moves, moves.dropFirst()) { #expect(next.0 == previous.1) }
            #expect(view.aliases == ["candidate": try #require(moves.last?.1)])
            #expect(try await store.registry.listModels().map(\.latestVersion) == [8])
            #expect(
                try await count(store, "SELECT count(*)::int FROM outbox WHERE event_type = 'model.registered'") == 8)
            #expect(try await count(store, "SELECT count(*)::int FROM outbox WHERE event_type = 'model.promoted'") == 8)
            #expect(
                try await count(
                    store, "SELECT count(*)::int FROM stage_attempts WHERE kind = 'register' AND state = 'succeeded'")
                    == 8)
        }
    }

    @Test("A second attempt of the same run's register stage re-uses the version and moves nothing")
    func secondAttemptReusesVersion() async throws {
        try await ScratchDatabase.create().withStore { store in
            let run = try await registrable(store)
            let first = try registered(
                try await store.registry.register(run.claim, Self.register, upstreamStages: ["train"]))
            #expect(first.version == 1 && first.isNew)
            // A manual move in between must survive the retry.
            _ = try await store.registry.promote(
                model: "ko-llm", alias: "candidate", to: 1, actor: "bob", reason: "keep")
            let retry = try await claimRegister(store, run: run.run, attempt: 2)
            let second = try registered(
                try await store.registry.register(retry, Self.register, upstreamStages: ["train"]))
            #expect(second.version == 1 && !second.isNew && second.move == nil)
            #expect(second.artifactURI == first.artifactURI)
            #expect(try await count(store, "SELECT count(*)::int FROM model_versions") == 1)
            #expect(try await count(store, "SELECT last_version FROM models WHERE name = 'ko-llm'") == 1)
            #expect(try await count(store, "SELECT count(*)::int FROM model_alias_events") == 1)
            #expect(
                try await count(store, "SELECT count(*)::int FROM outbox WHERE event_type = 'model.registered'") == 1)
            #expect(
                try await count(
                    store, "SELECT count(*)::int FROM stage_attempts WHERE id = \(retry.id) AND state = 'succeeded'")
                    == 1)
        }
    }

    @Test("A fenced-out or artifact-less attempt writes nothing")
    func fencedAndMissing() async throws {
        try await ScratchDatabase.create().withStore { store in
            let run = try await registrable(store)
            try await store.client.query(
                "UPDATE stage_attempts SET lease_epoch = lease_epoch + 1 WHERE id = \(run.claim.id)")
            #expect(
                try await store.registry.register(run.claim, Self.register, upstreamStages: ["train"]) == .fencedOut)
            let other = try await registrable(store)
            let missing = RegisterSpec(model: "ko-llm", stage: "train", output: "weights")
            guard
                case .missingArtifact(let reason) = try await store.registry.register(
                    other.claim, missing, upstreamStages: [])
            else {
                Issue.record("expected a missing artifact")
                return
            }
            #expect(reason.contains("output 'weights'"))
            #expect(try await count(store, "SELECT count(*)::int FROM models") == 0)
            #expect(try await count(store, "SELECT count(*)::int FROM outbox WHERE event_type LIKE 'model.%'") == 0)
        }
    }

    @Test("Promotions and rollbacks are audited with who and why; a rollback undoes one move at a time")
    func promoteAndRollback() async throws {
        try await ScratchDatabase.create().withStore { store in
            for _ in 0..<2 {
                let run = try await registrable(store)
                _ = try registered(
                    try await store.registry.register(run.claim, Self.register, upstreamStages: ["train"]))
            }
            let first = try await store.registry.promote(
                model: "ko-llm", alias: "champion", to: 1, actor: "alice", reason: "baseline")
            #expect(
                first
                    == ModelPromoted(
                        model: "ko-llm", alias: "champion", fromVersion: nil, toVersion: 1, move: .promote,
                        actor: "alice",
                        reason: "baseline", runId: nil))
            _ = try await store.registry.promote(
                model: "ko-llm", alias: "champion", to: 2, actor: "alice", reason: "canary ok")
            #expect(
                try await store.registry.promote(
                    model: "ko-llm", alias: "champion", to: 2, actor: "alice", reason: "again")
                    == nil)
            let back = try await store.registry.rollback(
                model: "ko-llm", alias: "champion", actor: "bob", reason: "errors up")
            #expect(back.fromVersion == 2 && back.toVersion == 1 && back.move == .rollback)
            let gone = try await store.registry.rollback(
                model: "ko-llm", alias: "champion", actor: "bob", reason: "pull it")
            #expect(gone.fromVersion == 1 && gone.toVersion == nil)
            await #expect(throws: StoreError.self) {
                try await store.registry.rollback(model: "ko-llm", alias: "champion", actor: "bob", reason: nil)
            }
            await #expect(throws: StoreError.self) {
                try await store.registry.promote(model: "ko-llm", alias: "champion", to: 9, actor: "bob", reason: nil)
            }
            await #expect(throws: StoreError.self) {
                try await store.registry.promote(model: "nope", alias: "champion", to: 1, actor: "bob", reason: nil)
            }
            let view = try #require(try await store.registry.model("ko-llm"))
            #expect(view.aliases == ["candidate": 2])
            let champion = view.aliasEvents.filter { $0.alias == "champion" }.reversed()
            #expect(champion.map(\.actor) == ["alice", "alice", "bob", "bob"])
            #expect(champion.map(\.reason) == ["baseline", "canary ok", "errors up", "pull it"])
            #expect(champion.map(\.move) == [.promote, .promote, .rollback, .rollback])
            #expect(champion.map(\.toVersion) == [1, 2, 1, nil])
            #expect(try await count(store, "SELECT count(*)::int FROM outbox WHERE event_type = 'model.promoted'") == 6)
            // The candidate's moves came from the register stage, attributed to its run.
            let candidate = view.aliasEvents.filter { $0.alias == "candidate" }
            #expect(candidate.allSatisfy { $0.move == .register && $0.actor == "baton/\($0.runId ?? "")" })
        }
    }

    @Test("The documented 'why is this model serving?' query returns the version, its moves, the gate and provenance")
    func whyServing() async throws {
        try await ScratchDatabase.create().withStore { store in
            let fixture = LineageFixture(store: store)
            let run = try await fixture.run(stages: ["train", "gate", "register"])
            let corpus = try await fixture.artifact("s3://data/corpus", md5: "c0c0.dir", kind: "dataset")
            let train = try await fixture.attempt(
                run: run, stage: "train", gpus: 2, raySeconds: 30, codeDigest: "sha256:train")
            try await fixture.reads(train, "corpus", corpus)
            try await fixture.param(train, "learning_rate", json: "0.0002")
            try await fixture.metric(train, "accuracy", step: 0, 0.91)
            let weights = try await fixture.artifact("s3://models/ko/\(run.lowercased)", md5: "m0m0.dir", kind: "model")
            try await fixture.writes(train, "model", weights)
            let gate = try await fixture.attempt(run: run, stage: "gate")
            try await store.client.query(
                """
                INSERT INTO gate_decisions (attempt_id, run_id, stage, condition, passed, observed)
                VALUES (\(gate), \(run), 'gate', 'stages.train.metrics.accuracy >= 0.85', true,
                        '{"stages.train.metrics.accuracy": 0.91}')
                """)
            let claim = try await claimRegister(store, run: run, attempt: 1)
            let spec = RegisterSpec(model: "korean-llm", stage: "train", output: "model")
            _ = try registered(try await store.registry.register(claim, spec, upstreamStages: ["gate", "train"]))
            _ = try await store.registry.promote(
                model: "korean-llm", alias: "champion", to: 1, actor: "alice", reason: "canary passed")

            let query = try DocumentedQuery.lineage("why-serving")
            let rows = try await store.client.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT q.version, q.md5, q.run_id, q.alias_moves::text, q.gate_decisions::text,
                               q.provenance::text FROM (\(query)) q
                        """))
            var found: [(Int, String?, UUID, String, String, String)] = []
            for try await row in rows.decode((Int, String?, UUID, String, String, String).self) { found.append(row) }
            let (version, md5, runID, moves, gates, provenance) = try #require(found.first)
            #expect(found.count == 1)
            #expect(version == 1 && md5 == "m0m0.dir" && runID == run)
            let decoder = JSONDecoder()
            let moveList = try decoder.decode([[String: JSONValue]].self, from: Data(moves.utf8))
            #expect(moveList.map { $0["actor"] } == [.string("alice")])
            #expect(moveList.first?["reason"] == .string("canary passed"))
            let gateList = try decoder.decode([[String: JSONValue]].self, from: Data(gates.utf8))
            #expect(gateList.map { $0["passed"] } == [.bool(true)])
            let document = try decoder.decode([String: JSONValue].self, from: Data(provenance.utf8))
            guard case .array(let datasets) = document["datasets"], case .object(let dataset) = datasets.first else {
                Issue.record("no datasets in \(provenance)")
                return
            }
            #expect(dataset["md5"] == .string("c0c0.dir"))
            #expect(document["gpu_seconds"]?.numberValue == 60)
        }
    }
}
