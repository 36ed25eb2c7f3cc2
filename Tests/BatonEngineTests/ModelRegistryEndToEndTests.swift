import BatonCore
import BatonMLflow
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonEngine
@testable import BatonStore

/// The `register` stage kind through `baton serve`, a real Ray job, the `baton models` CLI and
/// the real MLflow registry.
@Suite("Model registry end to end (real Ray head and MLflow)", .serialized, .timeLimit(.minutes(8)))
struct ModelRegistryEndToEndTests {
    /// Writes a model file whose content depends on `quality`, reports it with its md5 and
    /// `accuracy = quality`.
    static let program = #"""
        import hashlib, json, os, pathlib
        params = json.loads(os.environ["BATON_PARAMS"])
        out = pathlib.Path(os.environ["BATON_OUTPUT_URI"][len("file://"):])
        out.mkdir(parents=True, exist_ok=True)
        data = ("weights for quality %s\n" % params["quality"]).encode()
        (out / "model.bin").write_bytes(data)
        print("::baton::output " + json.dumps({"name": "model", "uri": "file://" + str(out / "model.bin"), "md5": hashlib.md5(data).hexdigest(), "size": len(data), "kind": "model"}))
        print("::baton::metric " + json.dumps({"key": "accuracy", "value": params["quality"], "step": 0}))
        """#

    let model = "e2e-model-\(TestStack.uniqueSuffix())"
    let mlflowURI: String
    let mlflow: MLflowClient

    init() throws {
        mlflowURI = try TestStack.variable("BATON_MLFLOW_URI")
        mlflow = MLflowClient(configuration: .init(trackingURI: mlflowURI), logger: TestStack.logger)
    }

    func spec() throws -> String {
        let folder = try EngineFixture.jobFolder(program: Self.program)
        return """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: registry-e2e}
            params:
              quality: {type: number, default: 0.5}
            defaults: {pool: cpu, timeout: 5m, retries: {limit: 0, backoff: 1s}}
            stages:
              - name: train
                outputs: [model]
                ray: \(EngineFixture.rayBody(folder))
              - {name: evaluate, kind: noop, needs: [train]}
              - name: register
                kind: register
                needs: [evaluate]
                register: {model: \(model), artifact: stages.train.outputs.model}
            """
    }

    func runToEnd(_ fixture: EngineFixture, _ spec: String, quality: String) async throws -> UUID {
        let run = try await fixture.submit(spec, ["quality=\(quality)"])
        let view = try #require(try await fixture.waitForRuns([run], timeout: .seconds(180)).first)
        #expect(view.state == .succeeded, "\(view.reason ?? "")")
        return run
    }

    func models(_ fixture: EngineFixture, _ arguments: String...) async throws -> String {
        let result = try await BatonProcess.run(["models"] + arguments, environment: fixture.environment)
        #expect(result.status == 0, "baton models \(arguments.joined(separator: " ")): \(result.output)")
        return result.output
    }

    @Test(
        "Two runs register versions 1 and 2 with their artifacts and metrics; the CLI promotes and rolls back; MLflow follows"
    )
    func registerPromoteRollback() async throws {
        let fixture = try await EngineFixture()
        let serve = try BatonProcess(
            ["serve"],
            environment: fixture.environment.merging([
                "BATON_MLFLOW_URI": mlflowURI, "BATON_MLFLOW_EXPERIMENT_PREFIX": "baton-test-\(fixture.prefix)/",
                "BATON_MLFLOW_POLL_SECONDS": "0.3",
            ]) { $1 }, logName: "\(fixture.prefix)-registry")
        let spec = try spec()

        let first = try await runToEnd(fixture, spec, quality: "0.8")
        let second = try await runToEnd(fixture, spec, quality: "0.9")
        let view = try #require(try await fixture.withStore { try await $0.registry.model(model) })
        #expect(view.versions.map(\.version) == [2, 1])
        #expect(view.aliases == ["candidate": 2])
        for (version, run, quality) in [(1, first, 0.8), (2, second, 0.9)] {
            let registered = try #require(view.versions.first { $0.version == version })
            #expect(registered.runId == run.lowercased)
            #expect(registered.stage == "register")
            let file = try #require(URL(string: registered.artifactUri))
            #expect(registered.artifactUri.hasSuffix("/model.bin"))
            #expect(registered.artifactMd5 != nil && registered.artifactMd5 == DVCHash.of(file))
            #expect(registered.metrics == ["train": ["accuracy": quality]])
        }

        _ = try await models(
            fixture, "promote", model, "2", "--alias", "champion", "--reason", "best", "--actor", "alice")
        _ = try await models(
            fixture, "promote", model, "1", "--alias", "champion", "--reason", "try 1", "--actor", "bob")
        let rolledBack = try await models(
            fixture, "rollback", model, "--alias", "champion", "--reason", "1 regressed", "--actor", "carol")
        #expect(rolledBack.contains("champion v1 -> v2"))
        let refused = try await fixture.baton("models", "promote", model, "7", "--reason", "no such", "--actor", "dan")
        #expect(refused.status == 1 && refused.output.contains("has no version 7"))

        let shown = try JSONDecoder.iso8601.decode(
            ModelView.self, from: Data(try await models(fixture, "show", model, "--json").utf8))
        #expect(shown.aliases == ["candidate": 2, "champion": 2])
        let champion = shown.aliasEvents.filter { $0.alias == "champion" }.reversed()
        #expect(champion.map(\.actor) == ["alice", "bob", "carol"])
        #expect(champion.map(\.reason) == ["best", "try 1", "1 regressed"])
        #expect(champion.map(\.toVersion) == [2, 1, 2])
        let text = try await models(fixture, "show", model)
        #expect(text.contains("md5 \(view.versions[0].artifactMd5 ?? "-")") && text.contains("accuracy=0.9"))
        #expect(text.contains("champion: v1 -> v2  rollback by carol — 1 regressed"))
        let list = try JSONDecoder.iso8601.decode(
            [ModelSummary].self, from: Data(try await models(fixture, "list", "--json").utf8))
        #expect(list.map(\.name) == [model] && list.first?.latestVersion == 2)
        #expect(
            try await fixture.count("SELECT count(*)::int FROM outbox WHERE event_type = 'model.promoted'") == 5)

        // MLflow: the registered model, both versions made from the register attempts' runs, aliases.
        try await fixture.waitUntil("MLflow shows both versions and both aliases", timeout: .seconds(60)) {
            let registered = try await mlflow.registeredModel(named: model)
            return Set(registered?.aliases.map(\.alias) ?? []) == ["candidate", "champion"]
        }
        // Read after MLflow caught up: the mirror stores each attempt's MLflow run as it makes it.
        let registerRuns = try await fixture.withStore { store in
            var runs: [String] = []
            let rows = try await store.client.query(
                """
                SELECT m.mlflow_run_id FROM model_versions v JOIN mlflow_attempts m ON m.attempt_id = v.attempt_id
                WHERE v.model = \(model) ORDER BY v.version
                """)
            for try await id in rows.decode(String.self) { runs.append(id) }
            return runs
        }
        let versions = try await mlflow.searchModelVersions(filter: MLflowClient.versionFilter(model: model))
            .sorted { $0.version < $1.version }
        #expect(versions.count == 2)
        #expect(versions.map { $0.tagValues["baton.version"] } == ["1", "2"])
        #expect(versions.map { $0.tagValues["baton.run_id"] } == [first.lowercased, second.lowercased])
        #expect(versions.map { $0.tagValues["baton.artifact_md5"] } == view.versions.reversed().map(\.artifactMd5))
        #expect(versions.compactMap(\.runID) == registerRuns)
        #expect(versions.allSatisfy { $0.source?.hasPrefix("runs:/\($0.runID ?? "")/") == true })
        let v2 = try #require(versions.last?.version)
        let aliases = try #require(try await mlflow.registeredModel(named: model)).aliases
        #expect(aliases.map { "\($0.alias)=\($0.version)" }.sorted() == ["candidate=\(v2)", "champion=\(v2)"])

        // Rolling champion back past its first move removes it, in Baton and in MLflow; then nothing is left.
        let removed = try await models(
            fixture, "rollback", model, "--alias", "champion", "--reason", "pull it", "--actor", "carol")
        #expect(removed.contains("champion v2 -> none"))
        let nothing = try await BatonProcess.run(
            ["models", "rollback", model, "--alias", "champion", "--reason", "again", "--actor", "carol"],
            environment: fixture.environment)
        #expect(nothing.status == 1 && nothing.output.contains("no move left to roll back"))
        try await fixture.waitUntil("MLflow drops the champion alias", timeout: .seconds(60)) {
            try await mlflow.registeredModel(named: model)?.aliases.map(\.alias) == ["candidate"]
        }
        await serve.stop()
    }
}

extension JSONDecoder {
    /// A decoder for the CLI's JSON (ISO 8601 dates).
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
