import BatonCore
import BatonStore
import Logging

/// Keeps an attempt's lease while work on it runs: renews it every ``interval`` and stops when
/// the work ends.
///
/// Every long-running executor runs its body through one: a watched Ray job, a sleeping `noop`
/// stage, a rollout. When a renewal finds the lease gone (the epoch moved on to another owner,
/// or the attempt ended: cancelled, timed out, given up by the sweeper) the body is cancelled
/// and ``run(_:_:)`` throws ``LeaseLost``; the body's writes are fenced by the epoch anyway, so
/// this only stops work nobody will record. A renewal that fails (the database away for a
/// moment) is tried again at the next interval: a lease that lapses meanwhile is taken over,
/// and the next renewal finds it lost.
/// What a lease keeper needs of the store: the attempt store in `baton serve`, an in-memory fake
/// in unit tests of the keeper's logic.
protocol LeaseRenewing: Sendable {
    /// Extends `claim`'s lease by `lease`; `false` when the lease is no longer held.
    func renewLease(_ claim: ClaimedAttempt, lease: Duration) async throws -> Bool
}

extension AttemptStore: LeaseRenewing {}

struct LeaseKeeper: Sendable {
    /// The lease was lost while the body ran.
    struct LeaseLost: Error {}

    private let attempts: any LeaseRenewing
    /// How long each renewal extends the lease.
    let lease: Duration
    /// Time between renewals. Default: a third of ``lease``.
    let interval: Duration
    private let logger: Logger

    /// - Parameters:
    ///   - lease: how long each renewal extends the lease (the engine's lease duration).
    ///   - interval: time between renewals; `nil` for a third of `lease`.
    init(attempts: any LeaseRenewing, lease: Duration, interval: Duration? = nil, logger: Logger) {
        self.attempts = attempts
        self.lease = lease
        self.interval = interval ?? lease / 3
        self.logger = logger
    }

    /// What ended first: the body or the lease.
    private enum End<Result: Sendable>: Sendable {
        case finished(Result)
        case leaseLost
    }

    /// Runs `body` while renewing the lease of `claim`; renewing stops when `body` returns.
    ///
    /// - Returns: what `body` returned, when it finished while the lease was held.
    /// - Throws: ``LeaseLost`` (after cancelling `body`) when a renewal finds the lease gone;
    ///   otherwise what `body` throws.
    func run<Result: Sendable>(
        _ claim: ClaimedAttempt, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: End<Result>.self) { group in
            group.addTask { .finished(try await body()) }
            group.addTask {
                try await renewWhileHeld(claim)
                return .leaseLost
            }
            defer { group.cancelAll() }
            var lost = false
            while let next = await group.nextResult() {
                switch next {
                case .success(.finished(let result)):
                    return result
                case .success(.leaseLost):
                    // Wait for the body to stop; its own end, if it got there first, still counts.
                    lost = true
                    group.cancelAll()
                case .failure(let error):
                    if lost || error is LeaseLost { throw LeaseLost() }
                    throw error
                }
            }
            throw LeaseLost()
        }
    }

    /// Returns when a renewal finds the lease gone; throws only when cancelled.
    private func renewWhileHeld(_ claim: ClaimedAttempt) async throws {
        while true {
            try await Task.sleep(for: interval)
            do {
                guard try await attempts.renewLease(claim, lease: lease) else { return }
            } catch let error as CancellationError {
                throw error
            } catch {
                logger.warning(
                    "lease renewal failed; trying again",
                    metadata: [LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.error: "\(describeError(error))"])
            }
        }
    }
}
