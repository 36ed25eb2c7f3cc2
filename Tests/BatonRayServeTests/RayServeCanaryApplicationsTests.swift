import BatonCore
import Testing

@testable import BatonRayServe

/// Which Serve applications a rollout may touch.
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
}
