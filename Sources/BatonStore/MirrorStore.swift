/// The MLflow mirror's bookkeeping: its lease, the change queues, MLflow ids, parked runs and models.
///
/// One of the aggregate stores of ``BatonStore``; every aggregate shares its connection pool.
public struct MirrorStore: StoreAggregate {
    let database: StoreDatabase
}
