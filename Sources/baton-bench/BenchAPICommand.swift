import ArgumentParser
import BatonCore
import BatonHTTPClient
import Foundation
import Logging
import NIOHTTP1

/// `baton bench api`: many clients at once posting runs to a running API, and the latencies
/// they saw.
struct BenchAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract:
            "POST /v1/runs from many clients at once against a running `baton serve` and print latency figures as JSON."
    )

    @Option(help: "The API (env BATON_API_URL; default http://127.0.0.1:8088).") var url: String?
    @Option(help: "A token with runs:submit (env BATON_API_TOKEN).") var token: String?
    @Option(help: "Clients sending at once.") var clients = 50
    @Option(help: "Requests in all.") var requests = 1000
    @Option(help: "A spec file to request (default: one noop stage, so the engine's work stays small).")
    var pipeline: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let token = token ?? environment["BATON_API_TOKEN"] else {
            throw ValidationError("give --token or BATON_API_TOKEN (baton tokens create --scopes runs:submit)")
        }
        let clients = max(1, min(clients, 1000))
        let requests = max(clients, min(requests, 100_000))
        let spec =
            try pipeline.map { try String(contentsOfFile: $0, encoding: .utf8) }
                ?? """
                apiVersion: baton/v1
                kind: Pipeline
                metadata: {name: bench-api}
                stages:
                  - {name: only, kind: noop}
                """
        var configuration = JSONHTTPClient.Configuration(
            service: "Baton API", baseURL: url ?? environment["BATON_API_URL"] ?? "http://127.0.0.1:8088")
        configuration.headers.add(name: "Authorization", value: "Bearer \(token)")
        configuration.requestTimeout = .seconds(30)
        let http = JSONHTTPClient(configuration: configuration, logger: Logger(label: "baton.bench"))
        let body = try CloudEvent.encode(["spec": spec])
        let started = ContinuousClock.now
        let (latencies, failures) = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for client in 0..<clients {
                let share = requests / clients + (client < requests % clients ? 1 : 0)
                group.addTask {
                    var latencies: [Double] = []
                    var failures = 0
                    for _ in 0..<share {
                        let sent = ContinuousClock.now
                        let answer = try? await http.send(.POST, "/v1/runs", body: body, expect: nil)
                        if answer?.status == 202 {
                            latencies.append((ContinuousClock.now - sent).secondsDouble * 1000)
                        } else {
                            failures += 1
                        }
                    }
                    return (latencies, failures)
                }
            }
            var all: ([Double], Int) = ([], 0)
            for try await (latencies, failures) in group {
                all.0 += latencies
                all.1 += failures
            }
            return all
        }
        let elapsed = (ContinuousClock.now - started).secondsDouble
        let figures: JSONValue = .object([
            "clients": .int(Int64(clients)), "requests": .int(Int64(requests)), "failed": .int(Int64(failures)),
            "seconds": .double((elapsed * 1000).rounded() / 1000),
            "requests_per_second": .double((Double(latencies.count) / elapsed * 10).rounded() / 10),
            "post_runs_ms": Percentiles.summary(latencies),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(figures), as: UTF8.self))
    }
}
