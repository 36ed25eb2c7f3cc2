/// Runs and what decides them: requests, outcomes and cancels applied through the run planner, stored pipelines, and the run queries.
///
/// One of the aggregate stores of ``BatonStore``; every aggregate shares its connection pool.
public struct RunStore: StoreAggregate {
    let database: StoreDatabase
}
