/// Stage attempts: claims and leases, outcomes, Ray submissions and adoption, the stage cache, the sweeper and worker heartbeats.
///
/// One of the aggregate stores of ``BatonStore``; every aggregate shares its connection pool.
public struct AttemptStore: StoreAggregate {
    let database: StoreDatabase
}
