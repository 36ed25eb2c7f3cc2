/// Produces a dead letter's original record again: the `serve` process hands its Kafka producer
/// in (through `BatonEngine`'s `DeadLetterReplayer`), so the API replays without naming Kafka.
public protocol DeadLetterReplaying: Sendable {
    /// Produces dead letter `id`'s record again to its topic, with its key, payload and headers
    /// and a `baton.replayed_from` header, and records that `actor` did.
    ///
    /// - Returns: where the record landed, as `topic[partition]@offset`.
    /// - Throws: ``DeadLetterReplayError``: `.notFound`, `.notReplayable` (stored truncated), or
    ///   `.unavailable` when the broker or the database does not take it (retriable).
    func replay(_ id: Int64, actor: String) async throws(DeadLetterReplayError) -> String
}

/// Errors of replaying a dead letter.
public enum DeadLetterReplayErrorDomain: ServiceErrorDomain {}

/// Why a dead letter was not replayed.
public typealias DeadLetterReplayError = ServiceError<DeadLetterReplayErrorDomain>

extension ServiceErrorCode where Domain == DeadLetterReplayErrorDomain {
    /// No dead letter with that id.
    public static var notFound: Self { Self(rawValue: "not_found") }
    /// The dead letter was stored truncated (its record was too large to keep whole).
    public static var notReplayable: Self { Self(rawValue: "not_replayable") }
    /// The broker or the database did not take it.
    public static var unavailable: Self { Self(rawValue: "unavailable") }
}
