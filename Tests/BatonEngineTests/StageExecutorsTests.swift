import BatonCore
import BatonRay
import BatonStore
import BatonTestSupport
import PostgresNIO
import Testing

@testable import BatonEngine

/// Every stage kind is bound to an executor, in one table.
@Suite("Stage executors")
struct StageExecutorsTests {
    @Test("Every kind has an executor; without a Ray address, ray attempts fail saying what to set")
    func everyKind() throws {
        let client = PostgresClient(
            configuration: try DatabaseConfiguration(url: "postgres://nobody@127.0.0.1:1/none")
                .makeClientConfiguration())
        let store = BatonStore(client: client, source: "baton/tests", logger: TestStack.logger)
        var configuration = EngineConfiguration(brokers: ["127.0.0.1:1"])
        let unconfigured = StageExecutors(
            attempts: store.attempts, registry: store.registry, configuration: configuration, logger: TestStack.logger)
        for kind in StageKind.allCases {
            #expect(unconfigured.executor(for: kind) != nil, "\(kind) has no executor")
        }
        let standIn = try #require(unconfigured.executor(for: .ray) as? UnconfiguredStageExecutor)
        #expect(standIn.errorType == "ray_unconfigured")
        configuration.rayLauncher = RayJobClient(
            configuration: RayJobClient.Configuration(address: "http://127.0.0.1:1"), logger: TestStack.logger)
        let configured = StageExecutors(
            attempts: store.attempts, registry: store.registry, configuration: configuration, logger: TestStack.logger)
        #expect(configured.executor(for: .ray) is RayStageExecutor)
        #expect(configured.executor(for: .gate) is GateExecutor)
        #expect(configured.executor(for: .register) is RegisterExecutor)
        #expect(configured.executor(for: .rollout) is RolloutExecutor)
        #expect(configured.executor(for: .noop) is NoopExecutor)
    }
}
