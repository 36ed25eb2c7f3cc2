/// The model registry: versions and aliases, gate decisions, rollouts.
///
/// One of the aggregate stores of ``BatonStore``; every aggregate shares its connection pool.
public struct RegistryStore: StoreAggregate {
    let database: StoreDatabase
}
