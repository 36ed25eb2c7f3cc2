import BatonCore
import Testing

@testable import BatonRayServe

/// When a champion is deployed again, decided from Serve's applications as `GET
/// /api/serve/applications/` reports them (no server).
@Suite("Ray Serve champion restore decision")
struct RayServeRestoreOutcomeTests {
    typealias Apps = RayServeCanaryApplications

    static let champion = RolloutModel(name: "llm", version: 2, uri: "s3://models/llm/2", md5: nil)

    /// A version application as Serve lists it.
    static func version(_ number: Int, of model: String = "llm") -> (String, JSONValue) {
        (
            "\(model)-v\(number)",
            .object([
                "status": .string("RUNNING"),
                "deployed_app_config": .object(["import_path": .string(Apps.versionImportPath)]),
            ])
        )
    }

    /// The router of `model` as Serve lists it, with its routing in the router's `user_config`.
    static func router(
        _ model: String = "llm", stable: Int?, candidate: Int? = nil, weight: Int = 0
    ) -> (String, JSONValue) {
        func target(_ number: Int?) -> JSONValue {
            guard let number else { return .null }
            return .object([
                "app": .string("\(model)-v\(number)"), "version": .int(Int64(number)),
                "uri": .string("s3://models/\(model)/\(number)"),
            ])
        }
        let userConfig: JSONValue = .object([
            "model": .string(model), "stable": target(stable), "candidate": target(candidate),
            "weight": .int(Int64(weight)),
        ])
        return (
            model,
            .object([
                "status": .string("RUNNING"),
                "deployed_app_config": .object([
                    "import_path": .string("baton_serve.router:build"),
                    "deployments": .array([.object(["name": .string("WeightedRouter"), "user_config": userConfig])]),
                ]),
            ])
        )
    }

    /// KubeRay's anchor: a router application with no routing.
    static let anchor: (String, JSONValue) = (
        "baton-anchor",
        .object([
            "status": .string("RUNNING"),
            "deployed_app_config": .object(["import_path": .string("baton_serve.router:build")]),
        ])
    )

    static func outcome(_ apps: (String, JSONValue)...) -> ServingRestoreOutcome {
        Apps.restoreOutcome(for: champion, in: Dictionary(apps) { $1 })
    }

    @Test("A router that sends all traffic to the running champion: nothing to do")
    func serving() {
        #expect(Self.outcome(Self.router(stable: 2), Self.version(2)) == .alreadyServing)
        // A canary at weight 0 still sends everything to the champion.
        #expect(Self.outcome(Self.router(stable: 2, candidate: 3, weight: 0), Self.version(2)) == .alreadyServing)
        // A canary at 100 whose promotion has not been deployed yet.
        #expect(Self.outcome(Self.router(stable: 1, candidate: 2, weight: 100), Self.version(2)) == .alreadyServing)
    }

    @Test("Only a foreign application left (KubeRay's PUT): the router is missing, restore")
    func routerMissing() {
        #expect(Self.outcome(Self.anchor) == .restored(reason: "router application llm missing"))
        #expect(Self.outcome() == .restored(reason: "router application llm missing"))
        // Serve is still deleting them after the PUT: as good as gone.
        func deleting(_ app: (String, JSONValue)) -> (String, JSONValue) {
            guard case .object(var fields) = app.1 else { return app }
            fields["status"] = .string("DELETING")
            return (app.0, .object(fields))
        }
        #expect(
            Self.outcome(deleting(Self.router(stable: 2)), deleting(Self.version(2)), Self.anchor)
                == .restored(reason: "router application llm missing"))
        #expect(
            Self.outcome(Self.router(stable: 2), deleting(Self.version(2)))
                == .restored(reason: "version application llm-v2 missing"))
        // Another model's applications do not count as llm's.
        #expect(
            Self.outcome(Self.router("llm-vision", stable: 2), Self.version(2, of: "llm-vision"), Self.version(2))
                == .restored(reason: "router application llm missing"))
    }

    @Test("The router is there but the champion's version application is gone: restore")
    func versionMissing() {
        #expect(Self.outcome(Self.router(stable: 2)) == .restored(reason: "version application llm-v2 missing"))
        // A router of model llm-v2 with the version's name is not llm's version application.
        let impostor: (String, JSONValue) = ("llm-v2", Self.router("llm-v2", stable: 1).1)
        #expect(
            Self.outcome(Self.router(stable: 2), impostor) == .restored(reason: "version application llm-v2 missing"))
    }

    @Test("A router that routes elsewhere is left alone while what it routes to runs, restored when that is gone")
    func routesElsewhere() {
        #expect(
            Self.outcome(Self.router(stable: 2, candidate: 3, weight: 40), Self.version(2), Self.version(3))
                == .leftAlone(
                    reason: "router llm routes to v2 and v3 (candidate weight 40), not to the champion v2 alone"))
        #expect(
            Self.outcome(Self.router(stable: 1), Self.version(1))
                == .leftAlone(reason: "router llm routes to v1 (candidate weight 0), not to the champion v2 alone"))
        #expect(
            Self.outcome(Self.router(stable: 2, candidate: 3, weight: 40), Self.version(2))
                == .restored(reason: "router llm routes to missing llm-v3"))
        #expect(Self.outcome(Self.router(stable: 1)) == .restored(reason: "router llm routes to missing llm-v1"))
    }

    @Test("An application with the router's name that is no Baton router is someone else's: left alone")
    func foreignRouterName() {
        let foreign: (String, JSONValue) = ("llm", Self.anchor.1)
        #expect(Self.outcome(foreign) == .leftAlone(reason: "application llm is not a Baton router"))
    }
}
