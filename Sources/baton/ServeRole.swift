import ArgumentParser

/// A role `baton serve` can run. Each deployment (compose, Kubernetes) must run every role
/// somewhere; `baton roles` lists them so that a check can read the list from the binary.
enum ServeRole: String, CaseIterable, ExpressibleByArgument, Encodable {
    case coordinator, relay, worker, watcher, sweeper, mirror, api

    /// What the role does, in one line.
    var summary: String {
        switch self {
        case .coordinator:
            "plans runs, reacts to stage outcomes and fires schedules (Kafka: pipeline.requested, run.events)"
        case .relay: "publishes the PostgreSQL outbox to Kafka"
        case .worker: "claims and executes attempts of its pools (Kafka: stage.ready.<pool>)"
        case .watcher: "follows running Ray jobs, enforces their timeouts, adopts a dead worker's jobs"
        case .sweeper: "expires leases, fails timed-out attempts, re-drives lost events"
        case .mirror: "mirrors runs, attempts, metrics and models into MLflow (needs BATON_MLFLOW_URI)"
        case .api: "the HTTP API and web console (BATON_API_ADDRESS)"
        }
    }

    private enum CodingKeys: String, CodingKey { case name, summary }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rawValue, forKey: .name)
        try container.encode(summary, forKey: .summary)
    }
}
