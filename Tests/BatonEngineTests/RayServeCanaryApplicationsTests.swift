import BatonCore
import BatonRay
import BatonStore
import BatonTestSupport
import Foundation
import Testing

@testable import BatonRayServe

/// Two rollouts of `m` and `m-vision` deploying to the real Ray Serve at once; in the canary's
/// end-to-end suite, so that the two never load the small local head at the same time.
extension RayServeCanaryEndToEndTests {
    @Test("Concurrent deploys of llm and llm-vision both end with their applications present")
    func concurrentDeploys() async throws {
        let model = "conc-\(TestStack.uniqueSuffix())"
        let vision = model + "-vision"
        let database = try await ScratchDatabase.create()
        var configuration = RayServeCanary.Configuration(
            serveAddress: try TestStack.variable("BATON_RAY_ADDRESS"),
            prometheusURL: try TestStack.variable("BATON_PROMETHEUS_URL"),
            applicationsFolder: RayServeCanaryEndToEndTests.applications)
        if let proxy = URL(string: try TestStack.variable("BATON_RAY_SERVE_HTTP")), let port = proxy.port {
            configuration.httpPort = port
        }
        configuration.readyTimeout = .seconds(480)
        let folder = FileManager.default.temporaryDirectory.appending(path: "serve-model-\(TestStack.uniqueSuffix())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try #"{"error_rate": 0}"#.write(
            to: folder.appending(path: "baton-serve.json"), atomically: true, encoding: .utf8)
        let uri = "file://" + folder.path
        let unlocked = configuration
        try await database.withStore(topics: EventTopics(prefix: "serve")) { store in
            var configuration = unlocked
            configuration.applicationsLock = store.messaging
            let applications = RayServeCanaryApplications(
                serve: configuration.makeServeClient(logger: TestStack.logger), configuration: configuration,
                logger: TestStack.logger)
            let ray = RayJobClient(
                configuration: .init(address: configuration.serveAddress), logger: TestStack.logger)
            let workingDir = try await ray.workingDirectory(for: configuration.applicationsFolder)
            func deploy(_ name: String) async throws {
                let version = RolloutModel(name: name, version: 1, uri: uri, md5: nil)
                try await applications.deploy(
                    model: name, routing: .init(stable: nil, candidate: version, weight: 100), workingDir: workingDir)
            }
            do {
                async let first: Void = deploy(model)
                async let second: Void = deploy(vision)
                _ = try await (first, second)
                let names = Set(try await applications.applications().keys)
                #expect(names.isSuperset(of: [model, "\(model)-v1", vision, "\(vision)-v1"]), "\(names.sorted())")
                // Removing llm leaves llm-vision alone.
                try await applications.deploy(model: model, routing: nil, workingDir: workingDir)
                let left = Set(try await applications.applications().keys)
                #expect(!left.contains(model) && !left.contains("\(model)-v1"), "\(left.sorted())")
                #expect(left.isSuperset(of: [vision, "\(vision)-v1"]), "\(left.sorted())")
                try await applications.deploy(model: vision, routing: nil, workingDir: workingDir)
            } catch {
                // Whatever failed, the replicas must not stay to load the head for the tests after.
                for name in [model, vision] {
                    try? await applications.deploy(model: name, routing: nil, workingDir: workingDir)
                }
                throw error
            }
        }
    }
}
