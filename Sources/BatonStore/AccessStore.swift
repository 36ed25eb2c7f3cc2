/// Who may use the HTTP API and what they did: API tokens (kept as digests) and the audit log.
///
/// One of the aggregate stores of ``BatonStore``; every aggregate shares its connection pool.
public struct AccessStore: StoreAggregate {
    let database: StoreDatabase
}
