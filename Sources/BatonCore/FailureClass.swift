/// How a failure to handle one input (a Kafka message, an outbox row, a mirror change) is treated.
///
/// Every consumer of untrusted input asks one question of an error: can trying again change the
/// outcome? The answer decides between waiting the failure out and ending the input's handling.
public enum FailureClass: Sendable, Hashable {
    /// The infrastructure failed (connection refused or reset, database restarting or read-only
    /// after a failover, disk full, a lock or statement timeout, a broker away): retry with
    /// backoff, without limit, and never give the input up for it.
    case transient
    /// The input itself cannot be handled (it does not decode or validate, cannot be encoded,
    /// violates a constraint with its content, is too large): end it at once as rejected or a
    /// dead letter, never retry it.
    case permanent
    /// Neither is known: retry a bounded number of times, then treat as permanent.
    case unknown
}
