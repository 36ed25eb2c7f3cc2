import BatonCore
import Foundation
import PostgresNIO

/// The attempt whose job log a reader asked for: which Ray job printed it, and whether more
/// can come.
public struct StageLogTarget: Sendable, Hashable {
    /// The attempt's id.
    public var attemptID: UUID
    /// Its number within the stage, from 1.
    public var attempt: Int
    /// The stage's kind; only `ray` stages have a job log.
    public var kind: StageKind
    /// The attempt's state.
    public var state: AttemptState
    /// The Ray submission id of the job that printed the log: the attempt's own, or for an
    /// attempt served from the cache, that of the attempt it reused. Nil until Ray accepted a job.
    public var submissionID: String?
}

extension AttemptStore {
    /// The attempt of `stage` in run `runID` whose log to read: number `attempt`, or the latest.
    /// Nil when the run, the stage or that attempt does not exist.
    public func logTarget(runID: UUID, stage: String, attempt: Int?) async throws -> StageLogTarget? {
        let rows = try await client.statement(
            """
            SELECT a.id, a.attempt, a.kind, a.state, coalesce(src.ray_submission_id, a.ray_submission_id)
            FROM stage_attempts a LEFT JOIN stage_attempts src ON src.id = a.cached_from
            WHERE a.run_id = \(runID) AND a.stage = \(stage) AND (\(attempt)::int IS NULL OR a.attempt = \(attempt))
            ORDER BY a.attempt DESC LIMIT 1
            """, logger: logger)
        for try await (id, number, kind, state, submissionID) in rows.decode(
            (UUID, Int, String, String, String?).self)
        {
            return StageLogTarget(
                attemptID: id, attempt: number, kind: StageKind(rawValue: kind) ?? .noop,
                state: AttemptState(rawValue: state) ?? .failed, submissionID: submissionID)
        }
        return nil
    }
}

extension AttemptStore {
    /// The job log of `target` (an attempt of `stage` in run `runID`) read through `source`:
    /// its last `tailLines` lines, then, with `follow`, what the job prints until the attempt
    /// ends. An attempt that has started no job yet reads as empty until it does.
    ///
    /// - Parameter firstRead: the log as the caller already read it, and whether the attempt had
    ///   ended before; read anew when nil.
    public func logFollower(
        of target: StageLogTarget, runID: UUID, stage: String, source: any JobLogSource, tailLines: Int,
        follow: Bool = true, firstRead: (log: String, ended: Bool)? = nil
    ) -> JobLogFollower {
        JobLogFollower(
            tailLines: tailLines, firstRead: firstRead,
            read: {
                // A submission id never changes once set: asked for only until the job started.
                var submissionID = target.submissionID
                if submissionID == nil {
                    submissionID = try await self.logTarget(runID: runID, stage: stage, attempt: target.attempt)?
                        .submissionID
                }
                guard let submissionID else { return "" }
                return try await source.jobLog(submissionID: submissionID)
            },
            hasEnded: {
                guard follow else { return true }
                return try await self.attemptState(target.attemptID)?.isTerminal ?? true
            })
    }
}
