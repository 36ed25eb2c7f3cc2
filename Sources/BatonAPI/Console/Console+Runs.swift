import BatonCore
import BatonStore
import Foundation
import Hummingbird

extension Console {
    /// `/ui`: the newest runs, filtered by pipeline and state; `console.js` refreshes the rows.
    func runsPage(_ request: Request, _ caller: Caller) async throws -> Response {
        var filter = RunFilter()
        let pipeline = request.uri.queryParameters["pipeline"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        filter.pipeline = pipeline.map { String($0.prefix(200)) }
        filter.state = request.uri.queryParameters["state"].flatMap { RunState(rawValue: String($0)) }
        let runs = try await store.runs.listRuns(filter, limit: 50).runs
        var query: [String] = []
        if let pipeline = filter.pipeline {
            query.append("pipeline=" + (pipeline.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        }
        if let state = filter.state { query.append("state=\(state.rawValue)") }
        return page(
            "runs",
            [
                "title": "Runs", "navRuns": true, "caller": caller.name, "filterPipeline": filter.pipeline ?? "",
                "query": query.joined(separator: "&"),
                "states": RunState.allCases.map { ["name": $0.rawValue, "selected": $0 == filter.state] },
                "runs": runs.map { run in
                    [
                        "id": run.runId, "short": String(run.runId.prefix(8)), "pipeline": run.pipeline,
                        "state": run.state.rawValue, "created": Self.time(run.createdAt),
                        "duration": Self.duration((run.finishedAt ?? Date()).timeIntervalSince(run.createdAt)),
                    ]
                },
            ])
    }

    /// `/ui/runs/{id}`: the run's DAG with live stage states, each stage's attempts, outputs,
    /// metrics (with a chart of each stepped metric), the gate's decision, Ray job links, and
    /// the cancel and retry buttons.
    func runPage(_ id: String, _ caller: Caller) async throws -> Response {
        guard let runID = UUID(uuidString: id), let run = try await store.runs.run(runID) else {
            return message("Not found", "There is no run \(id.prefix(60)).", .notFound)
        }
        let needs = try await stageNeeds(runID)
        let series = try await store.runs.metricSeries(runID)
        let graph = GraphDrawing(
            nodes: run.stages.map { stage in
                GraphDrawing.Node(
                    id: stage.name,
                    lines: [
                        stage.name,
                        stage.state.rawValue + (stage.durationSeconds.map { " · " + Self.duration($0) } ?? ""),
                        stage.kind.rawValue,
                    ],
                    classes: [stage.state.rawValue], link: nil)
            },
            edges: run.stages.flatMap { stage in (needs[stage.name] ?? []).map { ($0, stage.name) } })
        let stages: [[String: Any]] = run.stages.map { stage in
            let last = stage.attemptHistory.last
            var row: [String: Any] = [
                "name": stage.name, "kind": stage.kind.rawValue, "state": stage.state.rawValue,
                "attempts": stage.attempts, "duration": Self.duration(stage.durationSeconds),
                "reason": Self.present(stage.reason), "error": Self.present(last?.error),
                "outputs": (last?.outputs ?? []).map { ["name": $0.name, "uri": $0.uri, "md5": $0.md5 ?? ""] },
                "metrics": Self.pairs(last?.metrics ?? [:]),
                "hasLog": stage.kind == .ray && last != nil && configuration.jobLogs != nil,
            ]
            if let last, stage.kind == .ray, last.rayStatus != nil || last.startedAt != nil {
                row["rayJob"] = last.attemptId
                row["rayStatus"] = last.rayStatus ?? "unknown"
                row["rayLink"] = (configuration.rayDashboardURL ?? "") + "/#/jobs/" + last.attemptId
            }
            if let gate = last?.gate {
                row["gate"] = [
                    "condition": gate.condition, "outcome": gate.passed ? "passed" : "rejected",
                    "failedClause": gate.failedClause ?? "", "observed": Self.pairs(gate.observed),
                ]
            }
            if let last, let curves = series[last.attemptId] {
                row["charts"] = curves.sorted { $0.key < $1.key }.prefix(4).map { key, points in
                    [
                        "svg": LineChart(series: [
                            .init(name: key, points: points.map { (Double($0.step), $0.value) })
                        ]).svg(title: "\(key) by step")
                    ]
                }
            }
            return row
        }
        return page(
            "run",
            [
                "title": "\(run.pipeline) \(run.runId.prefix(8))", "navRuns": true, "caller": caller.name,
                "runID": run.runId, "pipeline": run.pipeline, "state": run.state.rawValue,
                "created": Self.time(run.createdAt),
                "duration": Self.duration((run.finishedAt ?? Date()).timeIntervalSince(run.createdAt)),
                "reason": Self.present(run.reason), "canCancel": !run.state.isTerminal && caller.may(.runsCancel),
                "canRetry": run.state.isTerminal && caller.may(.runsSubmit), "dag": graph.svg(id: "dag"),
                "stages": stages,
            ])
    }

    /// Each stage's `needs`, from the spec the run was made from.
    private func stageNeeds(_ runID: UUID) async throws -> [String: [String]] {
        guard let yaml = try await store.lineage.specYAML(ofRun: runID),
            let spec = try? PipelineSpecParser.parse(yaml)
        else { return [:] }
        return Dictionary(spec.stages.map { ($0.name, $0.needs) }, uniquingKeysWith: { first, _ in first })
    }

    func cancel(_ id: String, request: Request, caller: Caller) async throws -> Response {
        guard Self.isSameOrigin(request) else {
            return message("Refused", "The form came from another site.", .forbidden)
        }
        guard let runID = UUID(uuidString: id) else { return message("Not found", "No such run.", .notFound) }
        let cancel = RunCancel(runId: runID, reason: "cancelled in the console", requestedBy: caller.name)
        let event = try CloudEvent(
            source: configuration.eventSource, type: .runCancel, subject: "run/\(runID.lowercased)", payload: cancel)
        switch try await store.runs.requestCancel(runID, event: event, caller: caller) {
        case .requested, .ended:
            return Response(status: .seeOther, headers: [.location: "/ui/runs/\(runID.lowercased)"])
        case .notFound:
            return message("Not found", "No such run.", .notFound)
        }
    }

    func retry(_ id: String, request: Request, caller: Caller) async throws -> Response {
        guard Self.isSameOrigin(request) else {
            return message("Refused", "The form came from another site.", .forbidden)
        }
        struct Form: Decodable { var from: String }
        var request = request
        let body = try await request.collectBody(upTo: 4096)
        guard let runID = UUID(uuidString: id), let run = try await store.runs.run(runID), run.state.isTerminal,
            let form = try? URLEncodedFormDecoder().decode(Form.self, from: String(buffer: body)),
            run.stages.contains(where: { $0.name == form.from })
        else { return message("Cannot retry", "Pick a stage of an ended run.", .unprocessableContent) }
        let newRun = UUID()
        let retry = PipelineRequested(runId: newRun, requestedBy: caller.name, retryOf: runID, retryFrom: form.from)
        let event = try CloudEvent(
            source: configuration.eventSource, type: .pipelineRequested, subject: "run/\(newRun.lowercased)",
            payload: retry)
        _ = try await store.runs.accept(retry, event: event, topic: store.topics.requested, caller: caller)
        return Response(status: .seeOther, headers: [.location: "/ui/runs/\(newRun.lowercased)"])
    }
}
