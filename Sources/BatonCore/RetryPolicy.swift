import Foundation

/// How often a stage is retried and how long to wait in between (exponential backoff).
public struct RetryPolicy: Sendable, Hashable {
    /// Retries after the first attempt; `0` means one attempt only. Default: 0.
    public var limit: Int
    /// The wait before the first retry. Default: 10 s.
    public var initialBackoff: Duration
    /// Each further retry waits this many times longer. Default: 2.
    public var factor: Double
    /// The longest wait. Default: 10 min.
    public var maxBackoff: Duration

    /// A policy with the given fields; the defaults allow no retry.
    public init(
        limit: Int = 0, initialBackoff: Duration = .seconds(10), factor: Double = 2,
        maxBackoff: Duration = .seconds(600)
    ) {
        self.limit = limit
        self.initialBackoff = initialBackoff
        self.factor = factor
        self.maxBackoff = maxBackoff
    }

    /// The total number of attempts allowed.
    public var maxAttempts: Int { limit + 1 }

    /// The wait before attempt `attempt + 1`, after attempt number `attempt` (1-based) failed.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let exponent = Double(max(0, attempt - 1))
        let milliseconds = Double(initialBackoff.milliseconds) * pow(factor, exponent)
        let capped = min(milliseconds, Double(maxBackoff.milliseconds))
        return .milliseconds(Int64(capped))
    }
}
