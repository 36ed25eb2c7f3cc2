import BatonCore
import BatonStore
import Foundation
import Hummingbird

extension Console {
    /// `/ui/lineage?uri=|run=`: the upstream graph of an artifact (or of a run's final outputs)
    /// down to the datasets, and its provenance (datasets with md5, attempts with params,
    /// metrics and GPU-seconds).
    func lineagePage(_ request: Request, _ caller: Caller) async throws -> Response {
        let uri = request.uri.queryParameters["uri"].map(String.init) ?? ""
        let run = request.uri.queryParameters["run"].map(String.init) ?? ""
        var object: [String: Any] = [
            "title": "Lineage", "navLineage": true, "caller": caller.name, "uri": uri, "run": run,
        ]
        var roots: [ArtifactView] = []
        if !uri.isEmpty {
            roots = try await store.lineage.artifact(uri: String(uri.prefix(4096))).map { [$0] } ?? []
        } else if let runID = UUID(uuidString: run) {
            roots = try await store.lineage.finalOutputs(ofRun: runID)
        } else {
            return page("lineage", object)
        }
        guard let root = roots.first else {
            object["problem"] = "No artifact is recorded at that URI or as that run's output."
            return page("lineage", object)
        }
        let graph = try await store.lineage.lineage(of: roots.map(\.id), direction: .upstream)
        var nodes = graph.nodes.map { node in
            GraphDrawing.Node(
                id: "a\(node.artifact.id)",
                lines: [
                    URL(string: node.artifact.uri)?.lastPathComponent ?? node.artifact.uri,
                    node.artifact.md5.map { "md5 " + $0.prefix(12) } ?? node.artifact.kind, node.artifact.kind,
                ], classes: ["artifact"], link: nil)
        }
        var edges: [(String, String)] = []
        for step in graph.steps {
            let id = "s\(step.attemptId)"
            nodes.append(
                GraphDrawing.Node(
                    id: id, lines: [step.stage, "\(step.pipeline) #\(step.attempt)", step.state.rawValue],
                    classes: ["attempt", step.state.rawValue], link: "/ui/runs/\(step.runId)"))
            edges += step.inputs.map { ("a\($0.artifactId)", id) }
            edges += step.outputs.map { (id, "a\($0.artifactId)") }
        }
        object["graph"] = GraphDrawing(nodes: nodes, edges: edges).svg(id: "lineage")
        object["rootURI"] = root.uri
        if let provenance = try await store.lineage.provenance(of: root.id) {
            object["datasets"] = provenance.datasets.map {
                ["uri": $0.uri, "md5": $0.md5 ?? "", "size": $0.size.map { "\($0) bytes" } ?? ""]
            }
            object["attempts"] = provenance.attempts.map {
                [
                    "stage": $0.stage, "runID": $0.runId, "runShort": String($0.runId.prefix(8)),
                    "state": $0.state.rawValue, "gpuSeconds": Self.number($0.gpuSeconds),
                    "params": Self.pairs($0.params), "metrics": Self.pairs($0.metrics),
                ] as [String: Any]
            }
        }
        return page("lineage", object)
    }

    /// `/ui/models`: registered models, latest versions and aliases.
    func modelsPage(_ caller: Caller) async throws -> Response {
        let models = try await store.registry.listModels(limit: 500)
        return page(
            "models",
            [
                "title": "Models", "navModels": true, "caller": caller.name,
                "models": models.map { model in
                    [
                        "name": model.name, "latest": "v\(model.latestVersion)",
                        "aliases": model.aliases.sorted { $0.key < $1.key }.map {
                            ["alias": $0.key, "version": $0.value]
                        },
                        "updated": Self.time(model.updatedAt ?? model.createdAt),
                    ] as [String: Any]
                },
            ])
    }

    /// `/ui/models/{name}`: versions with their metric snapshots, aliases and the audit log of
    /// their moves, and each rollout's traffic weight over time with its analysis results.
    func modelPage(_ name: String, _ caller: Caller) async throws -> Response {
        guard let model = try await store.registry.model(String(name.prefix(200))) else {
            return message("Not found", "There is no model \(name.prefix(60)).", .notFound)
        }
        let steps = try await store.registry.rolloutSteps(model: model.name)
        let start = steps.first?.recordedAt ?? Date()
        let byVersion = Dictionary(grouping: steps, by: \.candidateVersion)
        let chart = LineChart(
            series: byVersion.keys.sorted().map { version in
                LineChart.Series(
                    name: "v\(version)",
                    points: byVersion[version, default: []].map {
                        ($0.recordedAt.timeIntervalSince(start), Double($0.weight))
                    })
            }, width: 520, height: 160, yRange: 0...100)
        return page(
            "model",
            [
                "title": model.name, "navModels": true, "caller": caller.name, "name": model.name,
                "aliases": model.aliases.sorted { $0.key < $1.key }.map { ["alias": $0.key, "version": $0.value] },
                "versions": model.versions.map { version in
                    [
                        "version": version.version, "runID": version.runId, "runShort": String(version.runId.prefix(8)),
                        "uri": version.artifactUri,
                        "uriQuery": version.artifactUri.addingPercentEncoding(withAllowedCharacters: .alphanumerics)
                            ?? "",
                        "md5": version.artifactMd5 ?? "", "aliases": version.aliases,
                        "metrics": Self.pairs(
                            version.metrics.values.reduce(into: [:]) { $0.merge($1) { new, _ in new } }),
                        "created": Self.time(version.createdAt),
                    ] as [String: Any]
                },
                "rolloutChart": steps.isEmpty ? "" : chart.svg(title: "candidate traffic weight (%) over seconds"),
                "steps": steps.map { step in
                    [
                        "candidate": step.candidateVersion, "index": step.stepIndex, "kind": step.kind,
                        "weight": step.weight, "phase": step.phase, "measurements": Self.pairs(step.measurements),
                        "at": Self.time(step.recordedAt),
                    ] as [String: Any]
                },
                "moves": model.aliasEvents.map { event in
                    [
                        "at": Self.time(event.movedAt), "alias": event.alias, "move": event.move.rawValue,
                        "from": event.fromVersion.map { "v\($0)" } ?? "-",
                        "to": event.toVersion.map { "v\($0)" } ?? "-",
                        "actor": event.actor, "reason": event.reason ?? "",
                    ]
                },
            ])
    }

    /// `/ui/dead-letters` (admin): dead letters not discarded, and parked outbox rows.
    func deadLettersPage(_ caller: Caller) async throws -> Response {
        let letters = try await store.messaging.deadLetters(limit: 200, includeDiscarded: false)
        let parked = try await store.messaging.parkedOutboxEvents(limit: 200)
        return page(
            "dead-letters",
            [
                "title": "Dead letters", "navDead": true, "caller": caller.name,
                "letters": letters.map { letter in
                    [
                        "id": letter.id, "consumer": letter.consumer, "topic": letter.topic,
                        "partition": letter.partition, "offset": letter.offset,
                        "error": String(letter.error.prefix(300)),
                        "size": letter.payloadSize, "at": Self.time(letter.createdAt),
                    ] as [String: Any]
                },
                "parked": parked.map { row in
                    [
                        "id": row.id, "type": row.eventType, "topic": row.topic, "error": String(row.error.prefix(300)),
                        "at": Self.time(row.failedAt),
                    ] as [String: Any]
                },
            ])
    }
}
