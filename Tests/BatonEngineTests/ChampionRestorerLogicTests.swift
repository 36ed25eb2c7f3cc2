import BatonCore
import Logging
import Synchronization
import Testing

@testable import BatonEngine
@testable import BatonStore

/// The sweeper's champion restorer against an in-memory registry and scripted drivers (no server):
/// who is checked, who is skipped, what is recorded, and that errors never stop a pass. Real Ray
/// Serve is in `RayServeCanaryEndToEndTests` (`restoresLostChampion`).
@Suite("Champion restorer logic (in-memory registry and drivers)", .timeLimit(.minutes(1)))
struct ChampionRestorerLogicTests {
    /// The registry's served champions, by name, and the restores recorded.
    final class MemoryRegistry: ServedChampionRegistry {
        let champions: [ServedChampion]
        let failsListing: Bool
        let recorded = Mutex<[ModelRestored]>([])
        let listings = Mutex<[String]>([])

        init(_ champions: [ServedChampion], failsListing: Bool = false) {
            self.champions = champions.sorted { $0.model < $1.model }
            self.failsListing = failsListing
        }

        func servedChampions(target: String, after model: String, limit: Int) async throws -> [ServedChampion] {
            listings.withLock { $0.append("\(target) after '\(model)'") }
            if failsListing { throw StoreError.notFound("no database here") }
            return Array(champions.filter { $0.model > model }.prefix(limit))
        }

        func recordRestore(_ restored: ModelRestored) async throws {
            recorded.withLock { $0.append(restored) }
        }
    }

    /// A driver that answers each model as scripted (a missing script: already serving) and
    /// remembers whom it was asked about.
    final class ScriptedDriver: RolloutDriver {
        enum Answer: Sendable {
            case outcome(ServingRestoreOutcome)
            case failure
        }
        let answers: [String: Answer]
        let canLoseServing: Bool
        let asked = Mutex<[String]>([])

        init(_ answers: [String: Answer] = [:], canLoseServing: Bool = true) {
            self.answers = answers
            self.canLoseServing = canLoseServing
        }

        func run(
            candidate: RolloutModel, stable: RolloutModel?, rollout: RolloutSpec,
            report: @Sendable (RolloutStepReport) async throws -> Void
        ) async throws -> RolloutResult { .succeeded }

        func restoreServing(champion: RolloutModel) async throws -> ServingRestoreOutcome {
            asked.withLock { $0.append("\(champion.name)@v\(champion.version)") }
            switch answers[champion.name] ?? .outcome(.alreadyServing) {
            case .outcome(let outcome): return outcome
            case .failure: throw ScriptedFailure()
            }
        }
    }

    struct ScriptedFailure: Error {}

    static func champion(_ model: String, version: Int = 1, rollingOut: Bool = false) -> ServedChampion {
        ServedChampion(
            model: model, version: version, artifactURI: "s3://models/\(model)/\(version)", artifactMD5: nil,
            isRollingOut: rollingOut)
    }

    static let logger = Logger(label: "test.restorer")

    @Test("A pass skips models with a rollout in progress, records restores only, and goes on after a failure")
    func pass() async throws {
        let registry = MemoryRegistry([
            Self.champion("a", version: 3), Self.champion("b", rollingOut: true), Self.champion("c"),
            Self.champion("d", version: 2), Self.champion("e"),
        ])
        let driver = ScriptedDriver([
            "a": .outcome(.restored(reason: "router application a missing")),
            "b": .outcome(.restored(reason: "must never be asked")),
            "c": .failure,
            "d": .outcome(.leftAlone(reason: "router d routes to v1")),
        ])
        let restorer = ChampionRestorer(
            registry: registry, drivers: [.rayServe: driver], batchSize: 10, logger: Self.logger)
        let report = await restorer.pass(after: [:])
        #expect(driver.asked.withLock { $0 } == ["a@v3", "c@v1", "d@v2", "e@v1"])
        #expect(
            report.outcomes == ["restored": 1, "skipped": 1, "failed": 1, "left_alone": 1, "already_serving": 1])
        #expect(
            registry.recorded.withLock { $0 } == [
                ModelRestored(
                    model: "a", version: 3, artifactUri: "s3://models/a/3", target: "ray-serve",
                    reason: "router application a missing")
            ])
        // Fewer than a batch: the next pass starts from the first model again.
        #expect(report.cursors == [.rayServe: ""])
    }

    @Test("Passes page through the models a batch at a time and wrap around")
    func batches() async throws {
        let registry = MemoryRegistry(["a", "b", "c", "d", "e"].map { Self.champion($0) })
        let driver = ScriptedDriver()
        let restorer = ChampionRestorer(
            registry: registry, drivers: [.rayServe: driver], batchSize: 2, logger: Self.logger)
        var cursors: [RolloutSpec.Target: String] = [:]
        var checked: [[String]] = []
        for _ in 0..<4 {
            let before = driver.asked.withLock { $0.count }
            cursors = await restorer.pass(after: cursors).cursors
            checked.append(driver.asked.withLock { Array($0[before...]) })
        }
        #expect(checked == [["a@v1", "b@v1"], ["c@v1", "d@v1"], ["e@v1"], ["a@v1", "b@v1"]])
        #expect(
            registry.listings.withLock { $0 } == [
                "ray-serve after ''", "ray-serve after 'b'", "ray-serve after 'd'", "ray-serve after ''",
            ])
    }

    @Test("A registry that cannot be read fails the pass quietly, from the same place next time")
    func registryDown() async throws {
        let registry = MemoryRegistry([Self.champion("a")], failsListing: true)
        let driver = ScriptedDriver()
        let restorer = ChampionRestorer(
            registry: registry, drivers: [.rayServe: driver], batchSize: 2, logger: Self.logger)
        let report = await restorer.pass(after: [.rayServe: "m"])
        #expect(report.outcomes.isEmpty && report.cursors == [.rayServe: "m"])
        #expect(driver.asked.withLock { $0 }.isEmpty)
    }

    @Test("Only drivers whose platform can lose what it serves are checked; none, or an interval of nil, is off")
    func whoIsChecked() async throws {
        let registry = MemoryRegistry([Self.champion("a")])
        var configuration = EngineConfiguration(brokers: ["127.0.0.1:1"])
        configuration.rolloutDrivers = [.argo: ScriptedDriver(canLoseServing: false)]
        #expect(ChampionRestorer(configuration: configuration, registry: registry, logger: Self.logger) == nil)
        let serve = ScriptedDriver()
        configuration.rolloutDrivers[.rayServe] = serve
        let restorer = try #require(
            ChampionRestorer(configuration: configuration, registry: registry, logger: Self.logger))
        #expect(Array(restorer.drivers.keys) == [.rayServe])
        _ = await restorer.pass(after: [:])
        #expect(serve.asked.withLock { $0 } == ["a@v1"])
        configuration.serveRestoreInterval = nil
        #expect(ChampionRestorer(configuration: configuration, registry: registry, logger: Self.logger) == nil)
    }
}
