/// Lineage: artifacts, the steps that made and read them, and provenance documents.
///
/// One of the aggregate stores of ``BatonStore``; every aggregate shares its connection pool.
public struct LineageStore: StoreAggregate {
    let database: StoreDatabase
}
