import BatonCore
import BatonMLflow
import BatonTestSupport
import Foundation
import Testing

/// The MLflow client against the real tracking server of the local stack (`BATON_MLFLOW_URI`).
@Suite("MLflow client (real MLflow server)", .timeLimit(.minutes(3)))
struct MLflowClientTests {
    let client: MLflowClient

    init() throws {
        client = MLflowClient(
            configuration: .init(trackingURI: try TestStack.variable("BATON_MLFLOW_URI")), logger: TestStack.logger)
    }

    func uniqueExperiment() async throws -> String {
        try await client.createExperiment(named: "baton-test-client-\(TestStack.uniqueSuffix())")
    }

    @Test("Experiments: create, get by name, RESOURCE_ALREADY_EXISTS on a taken name, ensure is idempotent")
    func experiments() async throws {
        let name = "baton-test-client-\(TestStack.uniqueSuffix())"
        #expect(try await client.experiment(named: name) == nil)
        let id = try await client.createExperiment(named: name)
        #expect(try await client.experiment(named: name)?.experimentID == id)
        let taken = await #expect(throws: MLflowError.self) { try await client.createExperiment(named: name) }
        #expect(taken?.code == .resourceAlreadyExists)
        #expect(taken?.status == 400)
        #expect(taken?.isRetriable == false)
        #expect(taken?.description.contains("already exists") == true)
        #expect(try await client.ensureExperiment(named: name) == id)
        let fresh = "baton-test-client-\(TestStack.uniqueSuffix())"
        async let first = client.ensureExperiment(named: fresh)
        async let second = client.ensureExperiment(named: fresh)
        #expect(try await first == second)
    }

    @Test("Runs: create with tags, get, update status and end time, set a tag, find by tag")
    func runs() async throws {
        let experiment = try await uniqueExperiment()
        let start: Int64 = 1_795_000_000_000
        let created = try await client.createRun(
            experimentID: experiment, runName: "parent", startTime: start,
            tags: [MLflowTag(key: "baton.run_id", value: "r-1")])
        #expect(created.info.status == .running)
        #expect(created.info.startTime == start)
        try await client.updateRun(created.info.runID, status: .finished, endTime: start + 5000)
        try await client.setTag(created.info.runID, key: "baton.state", value: "succeeded")
        let fetched = try await client.run(created.info.runID)
        #expect(fetched.info.status == .finished)
        #expect(fetched.info.endTime == start + 5000)
        #expect(fetched.info.runName == "parent")
        #expect(fetched.tags["baton.run_id"] == "r-1")
        #expect(fetched.tags["baton.state"] == "succeeded")
        _ = try await client.createRun(experimentID: experiment, tags: [MLflowTag(key: "baton.run_id", value: "r-2")])
        let found = try await client.searchRuns(
            experimentIDs: [experiment], filter: MLflowClient.tagFilter("baton.run_id", equals: "r-1"))
        #expect(found.map(\.info.runID) == [created.info.runID])
        let quoted = try await client.searchRuns(
            experimentIDs: [experiment], filter: MLflowClient.tagFilter("baton.run_id", equals: "it's"))
        #expect(quoted.isEmpty)
        let missing = await #expect(throws: MLflowError.self) { try await client.run("0123456789abcdef") }
        #expect(missing?.code == .resourceDoesNotExist)
    }

    @Test("log-batch over the limits: 2500 metrics, 150 params and 150 tags arrive complete; long values are cut")
    func logBatchChunks() async throws {
        let experiment = try await uniqueExperiment()
        let run = try await client.createRun(experimentID: experiment).info.runID
        let metrics = (0..<2500).map {
            MLflowMetric(key: "m\($0)", value: Double($0) / 3, timestamp: 1_000 + Int64($0))
        }
        var params = (0..<150).map { MLflowParam(key: "p\($0)", value: "v\($0)") }
        params.append(MLflowParam(key: "long", value: String(repeating: "가", count: 7000)))
        let tags = (0..<150).map { MLflowTag(key: "t\($0)", value: String(repeating: "x", count: 100)) }
        let started = ContinuousClock.now
        try await client.logBatch(run, metrics: metrics, params: params, tags: tags)
        let elapsed = ContinuousClock.now - started
        print("log-batch of 2500 metrics, 151 params, 150 tags: \(elapsed)")
        let logged = try await client.run(run)
        #expect(logged.data.metrics.count == 2500)
        #expect(Set(logged.data.metrics.map(\.key)) == Set(metrics.map(\.key)))
        #expect(logged.data.params.count == 151)
        #expect(logged.tags.keys.filter { $0.hasPrefix("t") }.count == 150)
        let long = try #require(logged.params["long"])
        #expect(long.unicodeScalars.count == 6000)
        #expect(long.hasSuffix(MLflowBatch.truncationMarker))
        // The same points and params again are accepted and change nothing.
        try await client.logBatch(run, metrics: Array(metrics.prefix(10)), params: Array(params.prefix(10)))
        #expect(try await client.run(run).data.metrics.count == 2500)
        // A changed param is refused, with MLflow's code.
        let changed = await #expect(throws: MLflowError.self) {
            try await client.logBatch(run, params: [MLflowParam(key: "p0", value: "other")])
        }
        #expect(changed?.code == .invalidParameterValue)
    }

    @Test("Non-finite metric values travel as MLflow's NaN/Infinity strings")
    func nonFiniteMetrics() async throws {
        let run = try await client.createRun(experimentID: try await uniqueExperiment()).info.runID
        try await client.logBatch(
            run,
            metrics: [
                MLflowMetric(key: "nan", value: .nan, timestamp: 1),
                MLflowMetric(key: "inf", value: .infinity, timestamp: 1),
            ])
        let metrics = Dictionary(
            uniqueKeysWithValues: try await client.run(run).data.metrics.map { ($0.key, $0.value) })
        #expect(metrics["nan"]?.isNaN == true)
        // MLflow stores infinity as the largest finite double.
        #expect(metrics["inf"] == .greatestFiniteMagnitude)
    }

    @Test("An unreachable server is a retriable error, within the timeout")
    func unreachable() async throws {
        var configuration = MLflowClient.Configuration(trackingURI: "http://127.0.0.1:9")
        configuration.requestTimeout = .seconds(2)
        let closed = MLflowClient(configuration: configuration, logger: TestStack.logger)
        let started = ContinuousClock.now
        let error = await #expect(throws: MLflowError.self) { try await closed.experiment(named: "x") }
        #expect(error?.code == .unreachable)
        #expect(error?.isRetriable == true)
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}

/// Splitting log-batch requests, without a server.
@Suite("MLflow log-batch chunking")
struct MLflowBatchTests {
    struct Body: Decodable {
        var runID: String
        var metrics: [MLflowMetric]
        var params: [MLflowParam]
        var tags: [MLflowTag]
        enum CodingKeys: String, CodingKey {
            case metrics, params, tags
            case runID = "run_id"
        }
    }

    func decode(_ batch: MLflowBatch) throws -> [Body] {
        try batch.bodies.map { try JSONDecoder().decode(Body.self, from: Data($0)) }
    }

    @Test("Counts: at most 1000 metrics, 100 params, 100 tags and 1000 entities per request; nothing lost")
    func counts() throws {
        let metrics = (0..<2500).map { MLflowMetric(key: "m", value: 1, timestamp: 1, step: Int64($0)) }
        let params = (0..<150).map { MLflowParam(key: "p\($0)", value: "v") }
        let tags = (0..<250).map { MLflowTag(key: "t\($0)", value: "v") }
        let bodies = try decode(MLflowBatch(runID: "r", metrics: metrics, params: params, tags: tags))
        for body in bodies {
            #expect(body.runID == "r")
            #expect(body.metrics.count <= 1000 && body.params.count <= 100 && body.tags.count <= 100)
            #expect(body.metrics.count + body.params.count + body.tags.count <= 1000)
        }
        #expect(bodies.flatMap(\.metrics) == metrics)
        #expect(bodies.flatMap(\.params) == params)
        #expect(bodies.flatMap(\.tags) == tags)
        #expect(bodies.count == 3)
    }

    @Test("Size: no request body over 1 MB, each exactly the JSON it claims to be")
    func bytes() throws {
        let tags = (0..<300).map { MLflowTag(key: "t\($0)", value: String(repeating: "é", count: 7999)) }
        let batch = MLflowBatch(runID: "r", tags: tags)
        #expect(batch.bodies.allSatisfy { $0.count <= 1_000_000 })
        #expect(try decode(batch).flatMap(\.tags) == tags)
        #expect(batch.bodies.count == 5)
        #expect(MLflowBatch(runID: "r").bodies.isEmpty)
    }

    @Test("Truncation counts Unicode scalars, as MLflow does, and marks the cut")
    func truncation() {
        #expect(MLflowBatch.truncated("short", to: 6000) == "short")
        let cut = MLflowBatch.truncated(String(repeating: "한", count: 6001), to: 6000)
        #expect(cut.unicodeScalars.count == 6000)
        #expect(cut.hasSuffix(MLflowBatch.truncationMarker))
    }

    @Test("Credentials never show in descriptions")
    func redaction() {
        #expect(!"\(MLflowClient.Authorization.bearer("s3cret"))".contains("s3cret"))
        #expect(!"\(MLflowClient.Authorization.basic(username: "u", password: "s3cret"))".contains("s3cret"))
    }
}
