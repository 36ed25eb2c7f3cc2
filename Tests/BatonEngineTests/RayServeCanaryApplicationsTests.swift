import BatonCore
import BatonRay
import BatonStore
import BatonTestSupport
import Foundation
import Testing

@testable import BatonEngine

/// Which Serve applications a rollout may touch, and the lock that keeps two rollouts from
/// dropping each other's applications.
@Suite("Ray Serve canary applications")
struct RayServeCanaryApplicationsTests {
    static func app(_ importPath: String) -> JSONValue {
        .object(["deployed_app_config": .object(["import_path": .string(importPath)])])
    }

    @Test("Only the model's router and its own version applications belong to it")
    func exactMatch() {
        let version = Self.app("baton_serve.model:build")
        let router = Self.app("baton_serve.router:build")
        typealias Apps = RayServeCanaryApplications
        #expect(Apps.belongs("llm", to: "llm", app: router))
        #expect(Apps.belongs("llm-v1", to: "llm", app: version))
        #expect(Apps.belongs("llm-v12", to: "llm", app: version))
        #expect(Apps.belongs("llm-v3", to: "llm", app: nil))
        // Other models whose names start like llm's.
        #expect(!Apps.belongs("llm-vision", to: "llm", app: router))
        #expect(!Apps.belongs("llm-vision-v1", to: "llm", app: version))
        #expect(!Apps.belongs("llm-v2", to: "llm", app: router), "model llm-v2's router")
        #expect(!Apps.belongs("llm-v2-v1", to: "llm", app: version))
        #expect(!Apps.belongs("llm-v", to: "llm", app: version))
        #expect(!Apps.belongs("llm2", to: "llm", app: router))
        #expect(!Apps.belongs("ll", to: "llm", app: router))
        #expect(Apps.belongs("llm-vision-v1", to: "llm-vision", app: version))
    }

    /// How many holders were inside at once.
    actor Overlap {
        private(set) var inside = 0
        private(set) var most = 0
        func enter() {
            inside += 1
            most = max(most, inside)
        }
        func leave() { inside -= 1 }
    }

    @Test("Two holders of the Serve applications lock never overlap, across connections")
    func lockSerialises() async throws {
        let database = try await ScratchDatabase.create()
        let overlap = Overlap()
        try await database.withStore(topics: EventTopics(prefix: "lock")) { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await store.withRayServeLock("baton/ray-serve-applications/test") {
                            await overlap.enter()
                            try await Task.sleep(for: .milliseconds(150))
                            await overlap.leave()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(await overlap.most == 1)
    }
}

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
        configuration.readyTimeout = .seconds(240)
        let folder = FileManager.default.temporaryDirectory.appending(path: "serve-model-\(TestStack.uniqueSuffix())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try #"{"error_rate": 0}"#.write(
            to: folder.appending(path: "baton-serve.json"), atomically: true, encoding: .utf8)
        let uri = "file://" + folder.path
        let unlocked = configuration
        try await database.withStore(topics: EventTopics(prefix: "serve")) { store in
            var configuration = unlocked
            configuration.applicationsLock = store
            let applications = RayServeCanaryApplications(
                http: RayServeCanaryHTTP(timeout: .seconds(60), logger: TestStack.logger),
                configuration: configuration, logger: TestStack.logger)
            let ray = RayJobClient(
                configuration: .init(address: configuration.serveAddress), logger: TestStack.logger)
            let workingDir = try await ray.workingDirectory(for: configuration.applicationsFolder)
            func deploy(_ name: String) async throws {
                let version = RolloutModel(name: name, version: 1, uri: uri, md5: nil)
                try await applications.deploy(
                    model: name, routing: .init(stable: nil, candidate: version, weight: 100), workingDir: workingDir)
            }
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
        }
    }
}
