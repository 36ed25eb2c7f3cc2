import Foundation

/// A validated schedule (`apiVersion: baton/v1`, `kind: Schedule`): when to request runs of a
/// pipeline, and what to do when the last one is still running.
///
/// ```yaml
/// apiVersion: baton/v1
/// kind: Schedule
/// metadata: {name: nightly-retrain}
/// spec:
///   pipeline: korean-llm
///   cron: "0 3 * * *"          # crontab's five fields, or six with seconds first
///   timeZone: Asia/Seoul       # the wall clock the cron reads (default UTC)
///   params: {profile: tiny}
///   concurrencyPolicy: Forbid  # Allow (default), Forbid or Replace
///   catchUp: 1                 # missed ticks fired after downtime besides the latest (default 0)
///   startingDeadline: 10m      # a tick later than this is skipped (default: none)
/// ```
public struct ScheduleSpec: Sendable, Hashable {
    /// What a tick does while an earlier run of the schedule is still running.
    public enum ConcurrencyPolicy: String, Sendable, Hashable, CaseIterable {
        /// Start another run beside it.
        case allow = "Allow"
        /// Skip the tick.
        case forbid = "Forbid"
        /// Cancel the running ones, then start the new run.
        case replace = "Replace"
    }

    /// The schedule's name.
    public var name: String
    /// The applied pipeline it requests runs of (its latest version at each tick).
    public var pipeline: String
    /// When.
    public var cron: CronExpression
    /// The wall clock `cron` reads.
    public var timeZone: TimeZone
    /// Params of each run.
    public var params: [String: JSONValue]
    /// What a tick does while an earlier run is running.
    public var concurrencyPolicy: ConcurrencyPolicy
    /// Missed ticks fired after downtime besides the latest, at most.
    public var catchUp: Int
    /// A tick that cannot be fired within this of its time is skipped; nil fires it however late.
    public var startingDeadline: Duration?

    /// The most missed ticks a schedule may catch up.
    public static let maxCatchUp = 100
}
