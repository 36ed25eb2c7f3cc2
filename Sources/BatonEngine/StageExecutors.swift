import BatonCore
import BatonStore
import Logging

/// The executor of each stage kind: the one place a kind is bound to the code that runs it.
///
/// Adding a stage kind adds one line here (and its executor's file); the stage worker
/// dispatches through this table and never names a kind.
struct StageExecutors: Sendable {
    private let byKind: [StageKind: any StageExecutor]

    /// The executors of a worker (or any role that runs attempts).
    init(store: BatonStore, configuration: EngineConfiguration, logger: Logger) {
        let leases = LeaseKeeper(store: store, lease: configuration.leaseDuration, logger: logger)
        byKind = [
            .ray: configuration.rayLauncher.map {
                RayStageExecutor(store: store, ray: $0, configuration: configuration, logger: logger)
            }
                ?? UnconfiguredStageExecutor(
                    store: store, reason: "no Ray address is configured (set BATON_RAY_ADDRESS)",
                    errorType: "ray_unconfigured"),
            .gate: GateExecutor(store: store, logger: logger),
            .register: RegisterExecutor(store: store, logger: logger),
            .rollout: RolloutExecutor(store: store, configuration: configuration, logger: logger),
            .noop: NoopExecutor(store: store, leases: leases, logger: logger),
        ]
    }

    /// The executor of `kind`; `nil` when this build has none.
    func executor(for kind: StageKind) -> (any StageExecutor)? { byKind[kind] }
}
