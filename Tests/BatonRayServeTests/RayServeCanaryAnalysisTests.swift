import BatonCore
import BatonRay
import BatonTestEnvironment
import Foundation
import Testing

@testable import BatonRayServe

/// Analyses against the stack's real Prometheus, with queries whose answer is known.
@Suite("Ray Serve canary analysis (real Prometheus)", .timeLimit(.minutes(2)))
struct RayServeCanaryAnalysisTests {
    let analysis: RayServeCanaryAnalysis

    init() throws {
        var configuration = RayServeCanary.Configuration(
            serveAddress: "http://127.0.0.1:1", prometheusURL: try TestStack.variable("BATON_PROMETHEUS_URL"),
            applicationsFolder: URL(filePath: "/nonexistent"))
        configuration.requestTimeout = .seconds(5)
        analysis = RayServeCanaryAnalysis(
            prometheus: configuration.makePrometheusClient(logger: TestStack.logger), logger: TestStack.logger)
    }

    static func template(
        _ query: String, _ condition: String, count: Int = 2, failureLimit: Int = 0, errorLimit: Int = 1
    ) throws -> AnalysisTemplate {
        AnalysisTemplate(
            name: "t", interval: .milliseconds(200), count: count, failureLimit: failureLimit,
            consecutiveErrorLimit: errorLimit,
            metrics: [.init(name: "m", query: query, condition: try AnalysisCondition.parse(condition).get())])
    }

    @Test("Vector and scalar answers are measured; placeholders are filled in; + is sent as +")
    func values() async throws {
        #expect(try await analysis.value(of: "vector(0.25 + 0.5)") == 0.75)
        #expect(try await analysis.value(of: "scalar(vector(3))") == 3)
        #expect(try await analysis.value(of: #"baton_no_such_series{model="m"}"#) == nil)
        let outcome = try await analysis.run(
            try Self.template("vector({{candidate.version}})", "result == 7"), model: "m", candidate: 7, stable: nil)
        #expect(outcome.passed && outcome.measurements == ["m": 7])
    }

    @Test("A condition that does not hold fails after failureLimit; no data is an error up to its limit")
    func failures() async throws {
        let failed = try await analysis.run(
            try Self.template("vector(0.5)", "result >= 0.95", count: 3, failureLimit: 1), model: "m", candidate: 1,
            stable: nil)
        #expect(!failed.passed)
        #expect(failed.message == "m = 0.5 fails result >= 0.95 (2 of 2 measurements failed; failureLimit 1)")
        let empty = try await analysis.run(
            try Self.template("baton_no_such_series", "result > 0", errorLimit: 2), model: "m", candidate: 1,
            stable: nil)
        #expect(!empty.passed)
        #expect(empty.message == "m: no data (result > 0) (3 errors in a row; consecutiveErrorLimit 2)")
        let refused = try await analysis.run(
            try Self.template("sum(", "result > 0", errorLimit: 0), model: "m", candidate: 1, stable: nil)
        #expect(refused.message?.contains("Prometheus refused the query") == true)
    }
}
