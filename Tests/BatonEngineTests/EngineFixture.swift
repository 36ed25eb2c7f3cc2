import BatonCore
import BatonHTTPClient
import BatonKafka
import BatonTestSupport
import Foundation
import Glibc
import Logging
import NIOHTTP1
import PostgresNIO
import Synchronization

@testable import BatonStore

/// One isolated Baton installation for a test: its own database and its own topics and groups.
struct EngineFixture: Sendable {
    let database: ScratchDatabase
    let prefix: String
    let environment: [String: String]
    /// Where `baton serve` of this fixture serves /metrics, /healthz and /readyz.
    let metricsPort = EngineFixture.freePort()
    /// Where `baton serve` of this fixture serves the HTTP API.
    let apiPort = EngineFixture.freePort()

    /// The brokers this installation's `serve` and producers use.
    let brokers: [String]

    /// - Parameters:
    ///   - brokers: the brokers to use instead of the stack's (a test's private broker).
    ///   - environment: extra settings for `serve` and one-shot commands.
    init(brokers: [String]? = nil, environment extra: [String: String] = [:]) async throws {
        database = try await ScratchDatabase.create()
        prefix = "t\(TestStack.uniqueSuffix())"
        self.brokers = try brokers ?? TestStack.brokers()
        environment = [
            "BATON_KAFKA_BROKERS": self.brokers.joined(separator: ","),
            "BATON_DATABASE_URL": database.url,
            "BATON_TOPIC_PREFIX": prefix,
            "BATON_POOLS": "default,cpu,gpu",
            "BATON_LEASE_SECONDS": "3",
            "BATON_SWEEP_SECONDS": "0.5",
            "BATON_STATISTICS_SECONDS": "0.5",
            "BATON_REDRIVE_SECONDS": "5",
            "BATON_LOG_LEVEL": "info",
            "BATON_METRICS_ADDRESS": "127.0.0.1:\(metricsPort)",
            "BATON_API_ADDRESS": "127.0.0.1:\(apiPort)",
            // A revoked token is refused at once in tests.
            "BATON_API_TOKEN_CACHE_SECONDS": "0.1",
            // The MLflow mirror only where a test asks for it (MLflowMirrorTests).
            "BATON_MLFLOW_URI": "",
            "BATON_ARTIFACT_ROOT": "file://"
                + FileManager.default.temporaryDirectory.appending(path: "artifacts-\(prefix)").path,
            // Job folders are made under it (jobFolder(program:files:)); specs may point nowhere else.
            "BATON_JOBS_ROOT": Self.jobsRoot.path,
        ].merging(extra) { $1 }
    }

    var topics: EventTopics { EventTopics(prefix: prefix) }

    /// A TCP port on 127.0.0.1 for a child process to listen on: free now, and given to no other
    /// caller in this test process.
    ///
    /// The ports come from below Linux's ephemeral range (32768-60999), where outgoing connections
    /// never take their local port: a port the kernel hands out for port 0 is in that range and could
    /// go to any new connection before the child binds it (a serve once failed with "Address already
    /// in use" and its test waited out its whole limit). Each candidate is bound once to check that
    /// nothing (a Ray worker, the stack) holds it.
    static func freePort() -> Int {
        while true {
            let port = nextPort.withLock { next in
                defer { next = next >= 32_000 ? 20_000 : next + 1 }
                return next
            }
            if canBind(port) { return port }
        }
    }

    private static let nextPort = Mutex(20_000 + Int(getpid()) % 6_000)

    private static func canBind(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// GETs a path of the serve process's observability endpoint.
    func get(_ path: String) async throws -> (status: Int, body: String) {
        let client = JSONHTTPClient(
            configuration: .init(service: "baton serve", baseURL: "http://127.0.0.1:\(metricsPort)"),
            logger: TestStack.logger)
        let answer = try await client.send(.GET, path, accept: "*/*", expect: nil)
        return (answer.status, String(decoding: answer.body, as: UTF8.self))
    }

    /// Starts `baton serve` with all roles.
    func serve(_ name: String) throws -> BatonProcess {
        try BatonProcess(["serve"], environment: environment, logName: "\(prefix)-\(name)")
    }

    /// Runs a one-shot `baton` command against this installation.
    func baton(_ arguments: String...) async throws -> (status: Int32, output: String) {
        try await BatonProcess.run(arguments, environment: environment)
    }

    /// Writes a spec to a temporary file and returns its path.
    func specFile(_ yaml: String) throws -> String {
        let file = FileManager.default.temporaryDirectory.appending(path: "spec-\(TestStack.uniqueSuffix()).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func withStore<Result: Sendable>(_ body: @Sendable (BatonStore) async throws -> Result) async throws -> Result {
        try await database.withStore(topics: topics, body)
    }

    /// Polls until every run is terminal.
    func waitForRuns(_ runIDs: [UUID], timeout: Duration = .seconds(120)) async throws -> [RunView] {
        try await withStore { store in
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                var views: [RunView] = []
                for runID in runIDs {
                    if let view = try await store.runs.run(runID), view.state.isTerminal { views.append(view) }
                }
                if views.count == runIDs.count { return views }
                try await Task.sleep(for: .milliseconds(250))
            }
            // Where the unfinished ones stand, so that a slow host and a stuck run read differently.
            var unfinished: [String] = []
            for runID in runIDs {
                guard let view = try await store.runs.run(runID) else {
                    unfinished.append("\(runID.lowercased): no run (request not handled)")
                    continue
                }
                guard !view.state.isTerminal else { continue }
                let stages = view.stages.map { stage in
                    let latest = stage.attemptHistory.last
                    let ray = latest?.rayStatus.map { " ray \($0)" } ?? ""
                    let since = latest?.startedAt.map { String(format: " for %.0fs", -$0.timeIntervalSinceNow) } ?? ""
                    return "\(stage.name) \(stage.state.rawValue)\(ray)\(since)"
                }
                unfinished.append("\(runID.lowercased) \(view.state.rawValue): \(stages.joined(separator: ", "))")
            }
            throw RunsDidNotFinish(count: runIDs.count, unfinished: unfinished)
        }
    }

    /// Polls `condition` until it holds; fails the test with `description` when time runs out.
    func waitUntil(
        _ description: String, timeout: Duration = .seconds(120), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ConditionNotMet(description: description)
    }

    struct ConditionNotMet: Error, CustomStringConvertible {
        var description: String
    }

    /// Whether stage `stage`'s Ray job was submitted.
    func raySubmitted(stage: String) async throws -> Bool {
        try await count(
            "SELECT count(*)::int FROM stage_attempts WHERE stage = \(stage) AND ray_submission_id IS NOT NULL") == 1
    }

    /// One integer from a SQL query on this installation's database.
    func count(_ query: PostgresQuery) async throws -> Int {
        try await withStore { store in
            for try await value in try await store.client.query(query).decode(Int.self) { return value }
            return 0
        }
    }

    /// A producer for sending raw records, as any Kafka client would.
    func producer() throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: brokers)
        configuration.messageTimeout = .seconds(20)
        return try KafkaProducer(configuration: configuration, logger: TestStack.logger)
    }

    /// The first record on `topic`, read with a fresh consumer group from the earliest offset.
    func firstRecord(on topic: String, timeout: Duration = .seconds(30)) async throws -> KafkaConsumerMessage? {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: brokers, groupID: "check-\(TestStack.uniqueSuffix())", topics: [topic])
        configuration.sessionTimeout = .seconds(6)
        configuration.heartbeatInterval = .seconds(1)
        let consumer = try KafkaConsumer(configuration: configuration, logger: TestStack.logger)
        return try await withThrowingTaskGroup(of: KafkaConsumerMessage?.self) { group in
            group.addTask {
                try await consumer.run()
                return nil
            }
            group.addTask {
                for try await message in consumer.messages { return message }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    struct RunsDidNotFinish: Error, CustomStringConvertible {
        var count: Int
        /// Each run still going: its state and each stage's, with Ray's status and how long ago the
        /// latest attempt started.
        var unfinished: [String] = []
        var description: String {
            "not all of \(count) runs reached a terminal state in time"
                + unfinished.prefix(5).map { "\n  " + $0 }.joined()
        }
    }
}
