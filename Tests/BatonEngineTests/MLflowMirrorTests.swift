import BatonCore
import BatonMLflow
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

// `store.client`, internal to the store: the test writes an attempt's lineage rows as the watcher would.
@testable import BatonStore

/// The mirror role of `baton serve` against the real MLflow server and the real engine.
@Suite("MLflow mirror", .serialized, .timeLimit(.minutes(8)))
struct MLflowMirrorTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: mirror-me}
        params:
          profile: {type: string, default: tiny}
          learning_rate: {type: number, default: 0.0002}
        defaults: {pool: default, timeout: 2m, retries: {limit: 2, backoff: 200ms}}
        stages:
          - {name: preprocess, kind: noop, noop: {sleep: 300ms}}
          - {name: train, kind: noop, needs: [preprocess], noop: {sleep: 1500ms, fail_attempts: 1}}
          - {name: evaluate, kind: noop, needs: [train], noop: {sleep: 300ms}}
        """

    let mlflow: MLflowClient
    let uri: String
    let prefix = "baton-test-\(TestStack.uniqueSuffix())/"

    init() throws {
        uri = try TestStack.variable("BATON_MLFLOW_URI")
        mlflow = MLflowClient(configuration: .init(trackingURI: uri), logger: TestStack.logger)
    }

    func serve(_ fixture: EngineFixture, _ name: String, uri: String? = nil) throws -> BatonProcess {
        let extra = [
            "BATON_MLFLOW_URI": uri ?? self.uri, "BATON_MLFLOW_EXPERIMENT_PREFIX": prefix,
            "BATON_MLFLOW_POLL_SECONDS": "0.3",
        ]
        return try BatonProcess(
            ["serve"], environment: fixture.environment.merging(extra) { $1 }, logName: "\(fixture.prefix)-\(name)")
    }

    func submit(_ fixture: EngineFixture, spec: String = Self.spec) async throws -> UUID {
        let result = try await fixture.baton("submit", try fixture.specFile(spec), "--param", "profile=full")
        return try #require(UUID(uuidString: result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// The MLflow runs of Baton run `runID`: the parent, and the children by Baton attempt id.
    func mlflowTree(
        _ runID: UUID, pipeline: String = "mirror-me"
    ) async throws -> (parents: [MLflowRun], children: [MLflowRun]) {
        guard let experiment = try await mlflow.experiment(named: prefix + pipeline) else { return ([], []) }
        let runs = try await mlflow.searchRuns(
            experimentIDs: [experiment.experimentID],
            filter: MLflowClient.tagFilter("baton.run_id", equals: runID.uuidString.lowercased()))
        return (runs.filter { $0.tags["baton.kind"] == "run" }, runs.filter { $0.tags["baton.kind"] == "attempt" })
    }

    /// Waits until MLflow shows the whole run as PostgreSQL has it, ended; returns the tree.
    func waitForMirror(
        _ fixture: EngineFixture, _ runID: UUID, timeout: Duration = .seconds(90)
    ) async throws -> (parent: MLflowRun, children: [MLflowRun]) {
        let attempts = try await fixture.count(
            "SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID) AND finished_at IS NOT NULL")
        var result: (parent: MLflowRun, children: [MLflowRun])?
        try await fixture.waitUntil("MLflow shows run \(runID) ended with \(attempts) attempts", timeout: timeout) {
            let tree = try await mlflowTree(runID)
            guard let parent = tree.parents.first, parent.info.status.isTerminal,
                tree.children.count >= attempts, tree.children.allSatisfy(\.info.status.isTerminal)
            else { return false }
            result = (parent, tree.children)
            return true
        }
        return try #require(result)
    }

    @Test("A run made by the engine appears as a parent run with a nested run per attempt, params, metrics, statuses")
    func buildsTree() async throws {
        let fixture = try await EngineFixture()
        let serve = try serve(fixture, "mirror-tree")
        let runID = try await submit(fixture)
        let finished = try await fixture.waitForRuns([runID]).first
        let runEnded = ContinuousClock.now
        #expect(finished?.state == .succeeded)
        var (parent, children) = try await waitForMirror(fixture, runID)
        print("mirror lag from run end to MLflow showing it ended: \(ContinuousClock.now - runEnded)")
        #expect(parent.info.status == .finished)
        #expect(parent.params["profile"] == "full")
        #expect(parent.params["learning_rate"] == "0.0002")
        #expect(parent.info.endTime != nil)
        // One MLflow run per attempt, none twice: four, train having failed once (a busy machine
        // can add an attempt whose lease ran out; it is mirrored too).
        let attempts = try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID)")
        #expect(attempts >= 4)
        #expect(children.count == attempts)
        #expect(children.allSatisfy { $0.tags["mlflow.parentRunId"] == parent.info.runID })
        let train = children.filter { $0.tags["baton.stage"] == "train" }.sorted {
            $0.tags["baton.attempt"]! < $1.tags["baton.attempt"]!
        }
        #expect(train.map(\.info.status) == [.failed, .finished])
        #expect(train.first?.tags["baton.error"] != nil)
        #expect(children.allSatisfy { $0.info.startTime != nil && $0.info.endTime != nil })

        // Params, outputs and 2500 metric points written to the evaluate attempt (as the watcher
        // would) reach its MLflow run.
        let evaluate = try #require(children.first { $0.tags["baton.stage"] == "evaluate" })
        let attemptTag = try #require(evaluate.tags["baton.attempt_id"])
        let attemptID = try #require(UUID(uuidString: attemptTag))
        let written = ContinuousClock.now
        try await fixture.withStore { store in
            try await store.client.query(
                """
                INSERT INTO attempt_params (attempt_id, key, value)
                VALUES (\(attemptID), 'threshold', '0.85'::jsonb), (\(attemptID), 'dataset', '"ko-eval"'::jsonb)
                """, logger: TestStack.logger)
            try await store.client.query(
                """
                WITH a AS (INSERT INTO artifacts (uri, md5) VALUES ('file:///tmp/report.json', 'abc123') RETURNING id)
                INSERT INTO attempt_outputs (attempt_id, name, artifact_id) SELECT \(attemptID), 'report', id FROM a
                """, logger: TestStack.logger)
            try await store.client.query(
                """
                INSERT INTO attempt_metrics (attempt_id, key, step, value)
                SELECT \(attemptID), 'm' || i, 0, i / 10.0 FROM generate_series(0, 2499) i
                """, logger: TestStack.logger)
        }
        try await fixture.waitUntil("MLflow has 2500 metrics on evaluate", timeout: .seconds(60)) {
            try await mlflow.run(evaluate.info.runID).data.metrics.count == 2500
        }
        print("time to mirror 2500 metric points, 2 params, 1 output: \(ContinuousClock.now - written)")
        let logged = try await mlflow.run(evaluate.info.runID)
        #expect(logged.params == ["threshold": "0.85", "dataset": "ko-eval"])
        #expect(logged.tags["baton.output.report.uri"] == "file:///tmp/report.json")
        #expect(logged.tags["baton.output.report.md5"] == "abc123")
        #expect(logged.data.metrics.first { $0.key == "m42" }?.value == 4.2)
        #expect(try await fixture.count("SELECT count(*)::int FROM mlflow_mirror_pending_metrics") == 0)
        (parent, children) = try await waitForMirror(fixture, runID)
        #expect(children.count == 4)

        let metrics = try await fixture.get("/metrics").body
        #expect(metrics.contains("baton_mlflow_mirror_runs_behind 0"))
        #expect(!metrics.contains("baton_mlflow_mirror_failures_total"))
        // No crash, so no MLflow run was looked up before it was made.
        #expect(!metrics.contains("runs/search"))
        #expect(try await fixture.count("SELECT count(*)::int FROM mlflow_mirror_creating") == 0)
        await serve.stop()
    }

    @Test("kill -9 of serve mid-run, with MLflow ids lost as in a crash before they were stored: no duplicates")
    func restart() async throws {
        let fixture = try await EngineFixture()
        let first = try serve(fixture, "mirror-crash-1")
        // evaluate takes 20 s: the run is still going when MLflow first shows it, however long
        // the mirror takes on a busy host (the whole run is 4 s otherwise).
        let slow = Self.spec.replacing(
            "{name: evaluate, kind: noop, needs: [train], noop: {sleep: 300ms}}",
            with: "{name: evaluate, kind: noop, needs: [train], noop: {sleep: 20s}}")
        let runID = try await submit(fixture, spec: slow)
        try await fixture.waitUntil("MLflow has the parent and a child", timeout: .seconds(60)) {
            let tree = try await mlflowTree(runID)
            return tree.parents.count == 1 && !tree.children.isEmpty
        }
        await first.kill9()
        #expect(try await fixture.count("SELECT count(*)::int FROM runs WHERE state = 'running'") == 1)
        // As if the process had died between MLflow's answer and storing its ids: the subjects
        // stay marked as being made, their ids are not stored.
        try await fixture.withStore { store in
            try await store.client.query(
                """
                INSERT INTO mlflow_mirror_creating (subject)
                SELECT run_id FROM mlflow_runs UNION SELECT attempt_id FROM mlflow_attempts
                """, logger: TestStack.logger)
            try await store.client.query("DELETE FROM mlflow_attempts", logger: TestStack.logger)
            try await store.client.query("DELETE FROM mlflow_runs", logger: TestStack.logger)
            try await store.client.query(
                "INSERT INTO mlflow_mirror_changes (run_id) VALUES (\(runID))", logger: TestStack.logger)
        }
        let second = try serve(fixture, "mirror-crash-2")
        let views = try await fixture.waitForRuns([runID])
        #expect(views.first?.state == .succeeded)
        let (parent, children) = try await waitForMirror(fixture, runID)
        let tree = try await mlflowTree(runID)
        #expect(tree.parents.count == 1)
        #expect(tree.parents.first?.info.runID == parent.info.runID)
        let attempts = try await fixture.count("SELECT count(*)::int FROM stage_attempts WHERE run_id = \(runID)")
        #expect(tree.children.count == attempts)
        #expect(Set(children.compactMap { $0.tags["baton.attempt_id"] }).count == attempts)
        #expect(try await fixture.count("SELECT count(*)::int FROM mlflow_attempts") == attempts)
        #expect(try await fixture.count("SELECT count(*)::int FROM mlflow_mirror_creating") == 0)
        // The marked ones were looked up in MLflow (found, so not made again).
        #expect(try await fixture.get("/metrics").body.contains("runs/search"))
        await second.stop()
    }

    @Test("Runs mirrored several at once, their pipeline's experiment new: each appears once, whole, in one experiment")
    func mirrorsRunsAtOnce() async throws {
        let fixture = try await EngineFixture()
        let spec = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: mirror-many}
            params:
              profile: {type: string, default: tiny}
            stages:
              - {name: first, kind: noop}
              - {name: second, kind: noop, needs: [first]}
            """
        // Queued before serve starts: the mirror's first pass finds them all at once, and more
        // than one of them asks for the experiment that does not exist yet.
        var runIDs: [UUID] = []
        for _ in 0..<6 { runIDs.append(try await submit(fixture, spec: spec)) }
        let extra = [
            "BATON_MLFLOW_URI": uri, "BATON_MLFLOW_EXPERIMENT_PREFIX": prefix, "BATON_MLFLOW_POLL_SECONDS": "0.3",
            "BATON_MLFLOW_RUN_CONCURRENCY": "3",
        ]
        let serve = try BatonProcess(
            ["serve"], environment: fixture.environment.merging(extra) { $1 },
            logName: "\(fixture.prefix)-mirror-many")
        let views = try await fixture.waitForRuns(runIDs)
        #expect(views.allSatisfy { $0.state == .succeeded })
        for runID in runIDs {
            try await fixture.waitUntil("MLflow shows run \(runID) ended with its 2 attempts", timeout: .seconds(90)) {
                let tree = try await mlflowTree(runID, pipeline: "mirror-many")
                return tree.parents.first?.info.status == .finished && tree.children.count == 2
                    && tree.children.allSatisfy { $0.info.status == .finished }
            }
            let tree = try await mlflowTree(runID, pipeline: "mirror-many")
            #expect(tree.parents.count == 1, "one parent MLflow run for \(runID)")
            #expect(tree.parents.first?.params["profile"] == "full")
            #expect(Set(tree.children.map { $0.tags["baton.stage"] }) == ["first", "second"])
            #expect(tree.children.allSatisfy { $0.tags["mlflow.parentRunId"] == tree.parents.first?.info.runID })
        }
        let experiment = try #require(try await mlflow.experiment(named: prefix + "mirror-many"))
        let recorded = try await fixture.count(
            """
            SELECT count(*)::int FROM mlflow_experiments
            WHERE name = \(prefix + "mirror-many") AND experiment_id = \(experiment.experimentID)
            """)
        #expect(recorded == 1, "the mirror recorded MLflow's experiment id")
        await serve.stop()
    }

    @Test(
        "BATON_MLFLOW_CONCURRENCY out of 1-64, BATON_MLFLOW_RUN_CONCURRENCY out of 1-32, or not a number: serve refuses to start, naming the setting"
    )
    func refusesBadConcurrency() async throws {
        let fixture = try await EngineFixture()
        let cases = [
            ("BATON_MLFLOW_CONCURRENCY", "0", "1 to 64"), ("BATON_MLFLOW_CONCURRENCY", "65", "1 to 64"),
            ("BATON_MLFLOW_CONCURRENCY", "many", "1 to 64"), ("BATON_MLFLOW_RUN_CONCURRENCY", "0", "1 to 32"),
            ("BATON_MLFLOW_RUN_CONCURRENCY", "33", "1 to 32"),
        ]
        for (setting, value, range) in cases {
            let extra = ["BATON_MLFLOW_URI": uri, setting: value]
            let serve = try BatonProcess(
                ["serve"], environment: fixture.environment.merging(extra) { $1 },
                logName: "\(fixture.prefix)-mirror-\(setting.lowercased())-\(value)")
            #expect(await serve.waitForExit(within: .seconds(60)), "serve exits")
            #expect(serve.process.terminationStatus != 0)
            #expect(
                serve.log.contains("\(setting) must be a whole number from \(range), not '\(value)'"),
                "\(serve.log.suffix(2000))")
        }
    }

    @Test("MLflow unreachable: the pipeline still succeeds, failures are counted, and the run appears once it answers")
    func unreachable() async throws {
        let fixture = try await EngineFixture()
        let down = try serve(fixture, "mirror-down", uri: "http://127.0.0.1:9")
        let runID = try await submit(fixture)
        let views = try await fixture.waitForRuns([runID], timeout: .seconds(60))
        #expect(views.first?.state == .succeeded)
        try await fixture.waitUntil("the failure metric counts", timeout: .seconds(30)) {
            let metrics = try await fixture.get("/metrics").body
            return metrics.contains("baton_mlflow_mirror_failures_total")
                && metrics.contains("baton_mlflow_mirror_runs_behind 1")
        }
        #expect(try await mlflowTree(runID).parents.isEmpty)
        await down.stop()
        #expect(down.log.components(separatedBy: "will retry").count - 1 == 1, "one log line per outage")

        let up = try serve(fixture, "mirror-up")
        let (parent, children) = try await waitForMirror(fixture, runID)
        #expect(parent.info.status == .finished)
        #expect(children.count == 4)
        await up.stop()
    }

    // MARK: - Parking

    @Test(
        "A run MLflow refuses (metric acc@1) is parked: the next run and a champion move still reach MLflow; mirror failed lists it, mirror retry clears it"
    )
    func parksRefusedRun() async throws {
        let fixture = try await EngineFixture()
        let serve = try serve(fixture, "mirror-park")
        // The refused run first: its metric key is one MLflow never takes.
        let refused = try await submit(fixture)
        #expect(try await fixture.waitForRuns([refused], timeout: .seconds(60)).first?.state == .succeeded)
        try await fixture.withStore { store in
            try await store.client.query(
                """
                INSERT INTO attempt_metrics (attempt_id, key, step, value)
                SELECT id, 'acc@1', 0, 0.5 FROM stage_attempts WHERE run_id = \(refused) AND stage = 'evaluate'
                """, logger: TestStack.logger)
        }
        try await fixture.waitUntil("the mirror parks run \(refused)", timeout: .seconds(60)) {
            let listed = try await fixture.baton("mirror", "failed", "--json")
            return listed.output.contains(refused.lowercased)
        }
        let listed = try await fixture.baton("mirror", "failed")
        #expect(listed.status == 0)
        #expect(listed.output.contains("run \(refused.lowercased)"), "\(listed.output)")
        #expect(listed.output.contains("INVALID_PARAMETER_VALUE"), "\(listed.output)")
        try await fixture.waitUntil("the parked gauge says 1", timeout: .seconds(30)) {
            try await fixture.get("/metrics").body.contains(#"baton_mlflow_mirror_parked{kind="run"} 1"#)
        }

        // The runs behind it, and the registry, still reach MLflow.
        // A Ray stage, a noop and a register stage making version 1 of `registry.model`.
        let registry = try ModelRegistryEndToEndTests()
        let model = registry.model
        let next = try await fixture.submit(try registry.spec())
        #expect(try await fixture.waitForRuns([next], timeout: .seconds(180)).first?.state == .succeeded)
        let promoted = try await fixture.baton(
            "models", "promote", model, "1", "--alias", "champion", "--reason", "best", "--actor", "tester")
        #expect(promoted.status == 0, "\(promoted.output)")
        try await fixture.waitUntil("MLflow shows the next run ended", timeout: .seconds(90)) {
            let tree = try await mlflowTree(next, pipeline: "registry-e2e")
            return tree.parents.first?.info.status == .finished && tree.children.count == 3
        }
        try await fixture.waitUntil("MLflow shows the champion alias", timeout: .seconds(90)) {
            let aliases = try await mlflow.registeredModel(named: model)?.aliases ?? []
            return aliases.contains { $0.alias == "champion" }
        }
        await serve.stop()

        // Retry: audited, queued again, no longer listed.
        let retried = try await fixture.baton("mirror", "retry", refused.lowercased, "--actor", "tester")
        #expect(retried.status == 0, "\(retried.output)")
        #expect(retried.output.contains("queued again"), "\(retried.output)")
        let listedAfter = try await fixture.baton("mirror", "failed", "--json").output
        let parkedAfter = try JSONDecoder().decode([JSONValue].self, from: Data(listedAfter.utf8))
        #expect(parkedAfter.isEmpty, "\(listedAfter)")
        #expect(
            try await fixture.count(
                "SELECT count(*)::int FROM mlflow_mirror_retries WHERE subject = \(refused.lowercased) AND actor = 'tester'"
            )
                == 1)
        #expect(
            try await fixture.count("SELECT count(*)::int FROM mlflow_mirror_changes WHERE run_id = \(refused)") >= 1)
        let again = try await fixture.baton("mirror", "retry", refused.lowercased, "--actor", "tester")
        #expect(again.status == 1, "nothing parked any more: \(again.output)")
    }
}
