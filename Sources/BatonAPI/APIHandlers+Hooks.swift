import BatonCore
import BatonStore
import Foundation
import HTTPTypes

extension APIHandlers {
    /// The most alerts one notification may carry.
    static let maxAlertsPerHook = 200

    /// Alertmanager's webhook: each firing alert that a pipeline's trigger matches requests one
    /// run through the same durable path as `POST /v1/runs`, keyed by the alert, so a re-sent
    /// notification finds the run made the first time. Audited once per call.
    func receiveAlertmanagerHook(_ input: Operations.ReceiveAlertmanagerHook.Input) async throws
        -> Operations.ReceiveAlertmanagerHook.Output
    {
        let caller = try RequestCaller.required()
        guard case .json(let body) = input.body else { throw APIProblem.badRequest("send the notification as JSON") }
        guard body.alerts.count <= Self.maxAlertsPerHook else {
            throw APIProblem.badRequest(
                "\(body.alerts.count) alerts; at most \(Self.maxAlertsPerHook) per notification")
        }
        for alert in body.alerts {
            let labels = alert.labels.additionalProperties
            guard labels.count <= 64, labels.allSatisfy({ $0.key.utf8.count <= 200 && $0.value.utf8.count <= 1024 }),
                (1...64).contains(alert.fingerprint.utf8.count), alert.startsAt.utf8.count <= 64
            else {
                throw APIProblem.badRequest(
                    "an alert has over 64 labels, a label over 1024 bytes, or a fingerprint or startsAt over 64 bytes")
            }
        }
        let triggers = try await pipelineTriggers()
        var runs: [Components.Schemas.TriggeredRun] = []
        var refused: [Components.Schemas.RefusedTrigger] = []
        var ignored = 0
        for alert in body.alerts {
            let labels = alert.labels.additionalProperties
            let matches = alert.status == "firing" ? triggers.filter { $0.trigger.matches(labels) } : []
            if matches.isEmpty { ignored += 1 }
            for (pipeline, trigger) in matches {
                let request = PipelineRequested(
                    pipeline: pipeline, params: trigger.params(for: labels),
                    idempotencyKey: "alert/\(pipeline)/\(trigger.name)/\(alert.fingerprint)/\(alert.startsAt)",
                    runId: UUID(),
                    labels: [
                        "trigger": trigger.name, "alertname": trigger.alert, "alert_fingerprint": alert.fingerprint,
                    ], requestedBy: caller.name)
                do {
                    let accepted = try await accept(request, caller: caller)
                    runs.append(
                        .init(
                            pipeline: pipeline, trigger: trigger.name, fingerprint: alert.fingerprint,
                            runId: accepted.runId, existing: accepted.existing))
                } catch let problem as APIProblem where problem.status.code < 500 {
                    refused.append(
                        .init(
                            pipeline: pipeline, trigger: trigger.name, fingerprint: alert.fingerprint,
                            reason: problem.detail ?? problem.title))
                }
            }
        }
        try await store.access.audit(
            caller, action: "hooks.alertmanager", target: nil, outcome: runs.isEmpty ? "no_runs" : "runs_requested",
            detail: [
                "alerts": .int(Int64(body.alerts.count)), "runs": .array(runs.map { .string($0.runId) }),
                "refused": .int(Int64(refused.count)),
            ])
        return .ok(.init(body: .json(.init(runs: runs, refused: refused, ignored: ignored))))
    }

    /// Every trigger of the latest version of every pipeline, with its pipeline's name.
    private func pipelineTriggers() async throws -> [(pipeline: String, trigger: AlertTrigger)] {
        try await store.runs.listPipelines().flatMap { version in
            let spec = try? PipelineSpecCache.shared.spec(version.yaml)
            return (spec?.triggers ?? []).map { (version.name, $0) }
        }
    }
}
