/// The messaging tables that tie Kafka to commits (the outbox the relay publishes, dead letters),
/// and the advisory locks processes coordinate with.
///
/// One of the aggregate stores of ``BatonStore``; every aggregate shares its connection pool.
public struct MessagingStore: StoreAggregate {
    let database: StoreDatabase
}
