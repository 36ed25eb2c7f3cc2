import BatonCore
import Foundation
import PostgresNIO

/// Latencies of Ray stages, in seconds, for `baton bench`.
public struct RayStageFigures: Sendable {
    /// `stage.ready` committed (the attempt queued and due) to Ray accepting the submission.
    public var readyToSubmitted: [Double] = []
    /// `stage.ready` committed to a worker's claim of the attempt (Kafka and Baton alone).
    public var readyToClaimed: [Double] = []
    /// Ray reporting a job ended (its end time) to the next stage's submission accepted.
    public var endedToNextSubmitted: [Double] = []
    /// Submission accepted to Ray starting the job (Ray's own start-up).
    public var rayStartup: [Double] = []
    /// Ray's start to end of the job (the job's own run time).
    public var rayRun: [Double] = []
    /// Ray's end of the job to Baton recording the outcome.
    public var endedToRecorded: [Double] = []
}

extension RunStore {
    /// Which of the given runs have ended: one indexed read, cheap enough to poll every few
    /// milliseconds while a bench measures the engine beside it.
    public func endedRuns(_ runIDs: [UUID]) async throws -> Set<UUID> {
        let rows = try await client.statement(
            """
            SELECT id FROM runs WHERE id = ANY(\(runIDs))
                AND state <> \(RunState.running.rawValue)
            """, logger: logger)
        var ended: Set<UUID> = []
        for try await id in rows.decode(UUID.self) { ended.insert(id) }
        return ended
    }

    /// The Ray stage latencies of the given runs' succeeded attempts.
    public func rayStageFigures(runIDs: [UUID]) async throws -> RayStageFigures {
        var figures = RayStageFigures()
        let rows = try await client.statement(
            """
            SELECT extract(epoch FROM a.submitted_at - greatest(a.queued_at, a.available_at))::float8,
                   extract(epoch FROM a.started_at - greatest(a.queued_at, a.available_at))::float8,
                   extract(epoch FROM a.ray_started_at - a.submitted_at)::float8,
                   extract(epoch FROM a.ray_ended_at - a.ray_started_at)::float8,
                   extract(epoch FROM a.finished_at - a.ray_ended_at)::float8,
                   (SELECT extract(epoch FROM a.submitted_at - max(u.ray_ended_at))::float8
                    FROM stages s JOIN stage_attempts u
                      ON u.run_id = s.run_id AND u.stage = ANY(s.needs) AND u.state = 'succeeded'
                    WHERE s.run_id = a.run_id AND s.name = a.stage AND cardinality(s.needs) > 0)
            FROM stage_attempts a
            WHERE a.run_id = ANY(\(runIDs)) AND a.kind = 'ray' AND a.state = 'succeeded'
            """, logger: logger)
        for try await (ready, claimed, startup, run, recorded, handoff) in rows.decode(
            (Double?, Double?, Double?, Double?, Double?, Double?).self)
        {
            ready.map { figures.readyToSubmitted.append($0) }
            claimed.map { figures.readyToClaimed.append($0) }
            startup.map { figures.rayStartup.append($0) }
            run.map { figures.rayRun.append($0) }
            recorded.map { figures.endedToRecorded.append($0) }
            handoff.map { figures.endedToNextSubmitted.append($0) }
        }
        return figures
    }
}
