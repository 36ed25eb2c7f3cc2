import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonEngine
import BatonStore
import Foundation
import Logging

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract:
            "Request a run of a spec file or an applied pipeline (pipeline.requested, durable in PostgreSQL before it returns).",
        discussion: """
            The request is written to the outbox in PostgreSQL, and serve's relay publishes it to Kafka: once \
            this command returns, the request is kept even if the broker is away or loses its data. Needs \
            only the database, not Kafka; with BATON_API_URL (and BATON_API_TOKEN) set, only the HTTP API.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "A pipeline spec file (sent inline) or the name of an applied pipeline.")
    var pipeline: String

    @Option(name: .customLong("param"), help: "A param as name=value; repeatable.")
    var params: [String] = []

    @Option(help: "Requests with the same key make one run.")
    var idempotencyKey: String?

    @Flag(
        help:
            "Wait for the run to end; exit 0 if it succeeded, 3 if a gate rejected it, 2 if the request was rejected or dead-lettered, else 1."
    )
    var wait = false

    @Flag(help: "Print one JSON object with run_id and state.")
    var json = false

    @Option(help: "With --wait, give up after this many seconds.")
    var timeout: Double = 3600

    @Flag(help: "Run every stage, even those a succeeded attempt with the same fingerprint could serve.")
    var noCache = false

    func run() async throws {
        options.bootstrapLogging()
        var request = PipelineRequested(runId: UUID(), requestedBy: GlobalOptions.environment["USER"] ?? "cli")
        if FileManager.default.fileExists(atPath: pipeline) {
            request.spec = try GlobalOptions.readSpecFile(pipeline)
        } else {
            request.pipeline = pipeline
        }
        request.params = try Self.parseParams(params)
        request.idempotencyKey = idempotencyKey
        request.noCache = noCache ? true : nil
        if let api = try APIRemote.fromEnvironment() {
            try await Self.send(request, through: api, wait: wait, json: json, timeout: timeout)
            return
        }
        try await Self.send(request, wait: wait, json: json, timeout: timeout, options: options)
    }

    /// Prints a rejected request as a rejection by the coordinator reads after `--wait` (on
    /// standard output), and exits 2.
    static func rejected(_ problem: String, json: Bool) throws -> Never {
        if json {
            print(Self.json(["state": "rejected", "reason": problem]))
        } else {
            print("state: rejected (\(problem))")
        }
        throw ExitCode(2)
    }

    /// Sends the request (or the retry) through the HTTP API; with `wait`, follows the run there
    /// and exits as ``send(_:wait:json:timeout:options:)`` does.
    static func send(
        _ request: PipelineRequested, through api: APIRemote, wait: Bool, json: Bool, timeout: Double
    ) async throws {
        let runID: UUID
        do {
            if let retryOf = request.retryOf {
                runID = try await api.retry(retryOf, from: request.retryFrom ?? "")
            } else {
                runID = try await api.submit(request).runID
            }
        } catch let problem as APIRemote.Problem where problem.status == 422 {
            try rejected(problem.detail ?? problem.title, json: json)
        }
        guard wait else {
            print(json ? Self.json(["run_id": runID.lowercased, "state": "requested"]) : runID.lowercased)
            return
        }
        if !json { FileHandle.standardOutput.write(Data((runID.lowercased + "\n").utf8)) }
        var progress = RunProgress()
        let deadline = ContinuousClock.now + .seconds(timeout)
        var result = (state: "timeout", reason: Optional("no terminal state within \(Int(timeout)) s"))
        // The run is read when its event stream says something happened (at least every 2 s).
        polling: for await _ in api.wakes(for: runID, every: .seconds(2)) {
            guard ContinuousClock.now < deadline else { break }
            switch try await api.run(runID) {
            case .run(let run)?:
                progress.show(run)
                if run.state.isTerminal {
                    result = (run.state.rawValue, run.reason)
                    break polling
                }
            case .requested(let requested)? where requested.state == "rejected":
                result = ("rejected", requested.reason)
                break polling
            case .requested?, nil:
                break
            }
        }
        try report(result, runID: runID, json: json)
    }

    /// Writes the request to the outbox; with `wait`, follows the run to its end and exits non-zero unless
    /// it succeeded: 3 when a gate rejected the run (`rejected_by_gate`: nothing broke, the model
    /// was not good enough), 2 when the request itself was rejected, 1 otherwise.
    static func send(
        _ request: PipelineRequested, wait: Bool, json: Bool, timeout: Double, options: GlobalOptions
    ) async throws {
        let logger = Logger(label: "baton.submit")
        var request = request
        request.runId = request.runId ?? UUID()
        let topics = options.topics()
        let event = try CloudEvent(
            source: "baton/cli", type: .pipelineRequested, subject: "run/\(request.runId!.lowercased)",
            payload: request)
        // One database session: the checks the coordinator would make (so that nothing is written
        // for a request it would reject), then the API's durable path (request row, outbox row
        // and audit row in one transaction), then the wait.
        let caller = Caller(name: "cli:\(GlobalOptions.environment["USER"] ?? "unknown")", scopes: [.admin])
        let ended = try await Runtime.withStore(options, logger: logger) {
            [request] store -> (runID: UUID, result: (state: String, reason: String?))? in
            if let problem = try await store.runs.problem(with: request) { try rejected(problem, json: json) }
            let runID: UUID
            switch try await store.runs.accept(request, event: event, topic: topics.requested, caller: caller) {
            case .accepted(let id), .existing(let id): runID = id
            }
            guard wait else {
                print(json ? Self.json(["run_id": runID.lowercased, "state": "requested"]) : runID.lowercased)
                return nil
            }
            if !json {
                // The id first, before any progress line: scripts read it from the first line.
                FileHandle.standardOutput.write(Data((runID.lowercased + "\n").utf8))
            }
            let result = try await Self.waitForEnd(
                runID: runID, event: event, store: store, timeout: .seconds(timeout), progress: RunProgress())
            return (runID, result)
        }
        guard let (runID, result) = ended else { return }
        try report(result, runID: runID, json: json)
    }

    /// Prints how the run ended and exits non-zero unless it succeeded: 3 when a gate rejected
    /// it, 2 when the request was rejected or dead-lettered, 1 otherwise.
    static func report(_ result: (state: String, reason: String?), runID: UUID, json: Bool) throws {
        if json {
            var object = ["run_id": runID.lowercased, "state": result.state]
            if let reason = result.reason { object["reason"] = reason }
            print(Self.json(object))
        } else {
            print("state: \(result.state)" + (result.reason.map { " (\($0))" } ?? ""))
        }
        switch result.state {
        case RunState.succeeded.rawValue: return
        case RunState.rejectedByGate.rawValue: throw ExitCode(3)
        case "rejected", "dead_lettered": throw ExitCode(2)
        default: throw ExitCode(1)
        }
    }

    /// Polls the database until the run ends, the request is rejected, or it was dead-lettered
    /// (then the state is `dead_lettered`, with the reason, and `baton dlq replay` can run it later).
    ///
    /// - Parameter progress: told each state the run and its stages reach, as they reach it.
    static func waitForEnd(
        runID: UUID, event: CloudEvent, store: BatonStore, timeout: Duration, progress: RunProgress
    ) async throws -> (state: String, reason: String?) {
        let deadline = ContinuousClock.now + timeout
        var progress = progress
        while ContinuousClock.now < deadline {
            let run = try await store.runs.run(runID)
            if let run { progress.show(run) }
            if let run, run.state.isTerminal {
                return (run.state.rawValue, run.reason)
            }
            if let status = try await store.runs.requestStatus(
                consumer: EngineConfiguration.coordinatorConsumer, source: event.source, eventID: event.id),
                status.outcome == "rejected"
            {
                return ("rejected", status.reason)
            }
            if let error = try await store.messaging.deadLetterError(eventID: event.id) {
                return ("dead_lettered", error)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return ("timeout", "no terminal state within \(DurationParsing.format(timeout))")
    }

    static func parseParams(_ pairs: [String]) throws -> [String: JSONValue] {
        var params: [String: JSONValue] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--param '\(pair.prefix(40))' must be name=value")
            }
            let text = String(pair[pair.index(after: equals)...])
            // Objects and arrays are given as JSON; everything else as text, typed by the pipeline's declaration.
            let json =
                text.first == "{" || text.first == "["
                ? try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) : nil
            params[String(pair[..<equals])] = json ?? .string(text)
        }
        return params
    }

    static func json(_ object: [String: String]) -> String {
        String(decoding: (try? CloudEvent.encode(object)) ?? [], as: UTF8.self)
    }
}
