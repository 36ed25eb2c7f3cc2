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
    init(attempts: AttemptStore, registry: RegistryStore, configuration: EngineConfiguration, logger: Logger) {
        let leases = LeaseKeeper(attempts: attempts, lease: configuration.leaseDuration, logger: logger)
        byKind = [
            .ray: configuration.rayLauncher.map {
                RayStageExecutor(attempts: attempts, ray: $0, configuration: configuration, logger: logger)
            }
                ?? UnconfiguredStageExecutor(
                    attempts: attempts, reason: "no Ray address is configured (set BATON_RAY_ADDRESS)",
                    errorType: "ray_unconfigured"),
            .gate: GateExecutor(attempts: attempts, registry: registry, logger: logger),
            .register: RegisterExecutor(attempts: attempts, registry: registry, logger: logger),
            .rollout: RolloutExecutor(
                attempts: attempts, registry: registry, configuration: configuration, logger: logger),
            .noop: NoopExecutor(attempts: attempts, leases: leases, logger: logger),
        ]
    }

    /// The executor of `kind`; `nil` when this build has none.
    func executor(for kind: StageKind) -> (any StageExecutor)? { byKind[kind] }
}
