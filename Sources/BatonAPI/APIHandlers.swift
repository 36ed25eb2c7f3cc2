import BatonCore
import BatonStore
import Foundation
import OpenAPIRuntime

/// The operations of `openapi.yaml`, over the store. Every handler runs behind
/// ``AuthenticationMiddleware`` (the caller is ``RequestCaller/current``) and throws
/// ``APIProblem`` for what the caller must fix.
struct APIHandlers: APIProtocol {
    let store: BatonStore
    let feed: RunEventFeed
    /// Followed stage logs open now.
    let logFollows: StreamSlots
    let configuration: APIServer.Configuration

    // MARK: - Meta

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .plainText("ok\n")))
    }

    func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws
        -> Operations.GetOpenAPIDocument.Output
    {
        .ok(.init(body: .yaml(HTTPBody(APIDocument.bytes))))
    }

    // MARK: - Runs

    func createRun(_ input: Operations.CreateRun.Input) async throws -> Operations.CreateRun.Output {
        let caller = try RequestCaller.required()
        guard case .json(let body) = input.body else { throw APIProblem.badRequest("send the request as JSON") }
        if let labels = body.labels?.additionalProperties, labels.count > 50 {
            throw APIProblem.unprocessable("labels: at most 50")
        }
        var params: [String: JSONValue]?
        if let container = body.params {
            params = try JSONDecoder().decode(
                [String: JSONValue].self, from: JSONEncoder().encode(container.additionalProperties))
        }
        let request = PipelineRequested(
            pipeline: body.pipeline, version: body.version, spec: body.spec, params: params,
            idempotencyKey: input.headers.idempotencyKey, runId: UUID(), labels: body.labels?.additionalProperties,
            requestedBy: caller.name, noCache: body.noCache)
        return .accepted(.init(body: .json(try await accept(request, caller: caller))))
    }

    func retryRun(_ input: Operations.RetryRun.Input) async throws -> Operations.RetryRun.Output {
        let caller = try RequestCaller.required()
        let runID = try Self.runID(input.path.runId)
        guard case .json(let body) = input.body else { throw APIProblem.badRequest("send the request as JSON") }
        guard let run = try await store.runs.run(runID) else { throw APIProblem.notFound("no run \(runID.lowercased)") }
        guard run.state.isTerminal else {
            throw APIProblem.conflict("run \(runID.lowercased) is still running; cancel it or wait for it to end")
        }
        guard run.stages.contains(where: { $0.name == body.from }) else {
            throw APIProblem.unprocessable(
                "run \(runID.lowercased) has no stage '\(body.from.prefix(200))'; its stages are "
                    + run.stages.map(\.name).joined(separator: ", "))
        }
        let request = PipelineRequested(
            runId: UUID(), requestedBy: caller.name, retryOf: runID, retryFrom: body.from)
        return .accepted(.init(body: .json(try await accept(request, caller: caller))))
    }

    func listRuns(_ input: Operations.ListRuns.Input) async throws -> Operations.ListRuns.Output {
        var filter = RunFilter()
        if let pipeline = input.query.pipeline, pipeline.utf8.count > 200 {
            throw APIProblem.badRequest("pipeline: at most 200 bytes")
        }
        filter.pipeline = input.query.pipeline
        filter.state = try input.query.state.map { state in
            guard let value = RunState(rawValue: state.rawValue) else { throw APIProblem.badRequest("unknown state") }
            return value
        }
        for label in input.query.label ?? [] {
            guard label.utf8.count <= 400 else { throw APIProblem.badRequest("label: at most 400 bytes each") }
            guard let equals = label.firstIndex(of: "="), equals != label.startIndex else {
                throw APIProblem.badRequest("label '\(label.prefix(80))' must be key=value")
            }
            filter.labels[String(label[..<equals])] = String(label[label.index(after: equals)...])
        }
        guard filter.labels.count <= 20 else { throw APIProblem.badRequest("at most 20 labels") }
        filter.createdAfter = input.query.createdAfter
        filter.createdBefore = input.query.createdBefore
        if let text = input.query.cursor {
            guard let cursor = RunCursor(text: text) else {
                throw APIProblem.badRequest("cursor is not one this API gave; start again without it")
            }
            filter.cursor = cursor
        }
        let limit = input.query.limit ?? 50
        guard (1...500).contains(limit) else { throw APIProblem.badRequest("limit must be 1 to 500") }
        let page = try await store.runs.listRuns(filter, limit: limit)
        return .ok(.init(body: .json(.init(runs: page.runs, nextCursor: page.next?.text))))
    }

    func getRun(_ input: Operations.GetRun.Input) async throws -> Operations.GetRun.Output {
        let runID = try Self.runID(input.path.runId)
        if let run = try await store.runs.run(runID) { return .ok(.init(body: .json(.RunView(run)))) }
        if let requested = try await store.runs.requestedRun(runID, consumer: configuration.coordinatorConsumer) {
            return .ok(.init(body: .json(.RequestedRun(requested))))
        }
        throw APIProblem.notFound("no run \(runID.lowercased)")
    }

    func cancelRun(_ input: Operations.CancelRun.Input) async throws -> Operations.CancelRun.Output {
        let caller = try RequestCaller.required()
        let runID = try Self.runID(input.path.runId)
        var reason: String?
        if case .json(let body) = input.body { reason = body.reason.map { String($0.prefix(1000)) } }
        let cancel = RunCancel(runId: runID, reason: reason, requestedBy: caller.name)
        let event = try CloudEvent(
            source: configuration.eventSource, type: .runCancel, subject: "run/\(runID.lowercased)", payload: cancel)
        switch try await store.runs.requestCancel(runID, event: event, caller: caller) {
        case .requested:
            return .accepted(.init(body: .json(.init(runId: runID.lowercased, state: .cancelRequested))))
        case .notFound:
            throw APIProblem.notFound("no run \(runID.lowercased)")
        case .ended(let state):
            throw APIProblem.conflict("run \(runID.lowercased) has already ended: \(state.rawValue)")
        }
    }

    func streamRunEvents(_ input: Operations.StreamRunEvents.Input) async throws
        -> Operations.StreamRunEvents.Output
    {
        let runID = try Self.runID(input.path.runId)
        var after = 0
        if let text = input.headers.lastEventID {
            guard let value = Int(text), value >= 0 else {
                throw APIProblem.badRequest("Last-Event-ID must be an event number this stream sent")
            }
            after = value
        }
        var exists = try await store.runs.runState(runID) != nil
        if !exists {
            exists = try await store.runs.requestedRun(runID, consumer: configuration.coordinatorConsumer) != nil
        }
        guard exists else { throw APIProblem.notFound("no run \(runID.lowercased)") }
        guard await feed.count < configuration.maximumEventStreams else {
            throw APIProblem.unavailable(
                "\(configuration.maximumEventStreams) event streams are open; try again later or poll GET /v1/runs/{id}"
            )
        }
        let stream = RunEventStream(
            runID: runID, after: after, runs: store.runs, feed: feed,
            coordinatorConsumer: configuration.coordinatorConsumer, limits: configuration.eventStreamLimits)
        return .ok(.init(body: .textEventStream(HTTPBody(stream, length: .unknown, iterationBehavior: .single))))
    }

    // MARK: - Helpers

    /// Checks and accepts a request durably; the same idempotency key answers the same run.
    func accept(_ request: PipelineRequested, caller: Caller) async throws -> Components.Schemas.RunAccepted {
        if request.spec != nil, let refusal = configuration.specPolicy?.inlineSpecRefusal(scopes: caller.scopes) {
            throw APIProblem.forbidden(refusal)
        }
        if let problem = try await store.runs.problem(with: request, policy: configuration.specPolicy) {
            throw APIProblem.unprocessable(problem)
        }
        let runID = request.runId!
        let event = try CloudEvent(
            source: configuration.eventSource, type: .pipelineRequested, subject: "run/\(runID.lowercased)",
            payload: request)
        // Two requests with one new key at once: the second waits for the first's commit, then
        // finds its run.
        for attempt in 1...3 {
            do {
                switch try await store.runs.accept(request, event: event, topic: store.topics.requested, caller: caller)
                {
                case .accepted(let runID):
                    return .init(runId: runID.lowercased, state: .requested, existing: false)
                case .existing(let runID):
                    return .init(runId: runID.lowercased, state: .requested, existing: true)
                }
            } catch let error as StoreError where error.code == .conflict && error.isRetriable && attempt < 3 {
                try await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
        throw APIProblem.conflict("another request with the same Idempotency-Key is being accepted; try again")
    }

    static func runID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else {
            throw APIProblem.badRequest("'\(text.prefix(60))' is not a run id")
        }
        return id
    }
}
