import BatonCore
import Foundation
import PostgresNIO

/// A schedule as stored, with its last tick.
public struct ScheduleView: Sendable, Hashable, Codable {
    /// The schedule's name.
    public var name: String
    /// The pipeline it requests runs of.
    public var pipeline: String
    /// Its cron expression.
    public var cron: String
    /// The wall clock the cron reads.
    public var timeZone: String
    /// What a tick does while an earlier run is running.
    public var concurrencyPolicy: String
    /// Whether ticks are held.
    public var paused: Bool
    /// The next tick to fire.
    public var nextTick: Date?
    /// The last tick fired, its outcome and run.
    public var lastTick: Date?
    /// `requested`, `skipped_running`, `skipped_deadline` or `refused`.
    public var lastOutcome: String?
    /// The run the last tick requested.
    public var lastRunID: UUID?
}

/// What one tick of a schedule did.
public struct ScheduleFiring: Sendable, Hashable {
    /// The schedule.
    public var schedule: String
    /// The tick's time.
    public var tick: Date
    /// `requested`, `skipped_running`, `skipped_deadline` or `refused`.
    public var outcome: String
    /// The run requested (or found requested).
    public var runID: UUID?
    /// Why a tick was refused (the pipeline's answer).
    public var reason: String?
}

extension RunStore {
    /// Stores a schedule (a new one, or a new spec of one), its next tick from now.
    ///
    /// - Returns: the spec, and whether the schedule is new.
    /// - Throws: `SpecError` for a spec with problems; ``StoreError`` `notFound` when its pipeline
    ///   is not applied.
    public func applySchedule(yaml: String) async throws -> (spec: ScheduleSpec, created: Bool) {
        let spec = try ScheduleSpecParser.parse(yaml)
        guard try await pipeline(named: spec.pipeline) != nil else {
            throw StoreError.notFound(
                "schedule \(spec.name) names pipeline '\(spec.pipeline)', which is not applied (baton pipelines apply)")
        }
        let now = try await databaseNow()
        let next = spec.cron.next(after: now, in: spec.timeZone)
        let rows = try await client.statement(
            """
            INSERT INTO schedules (name, pipeline, spec_yaml, next_tick) VALUES (\(spec.name), \(spec.pipeline), \(yaml), \(next))
            ON CONFLICT (name) DO UPDATE SET pipeline = excluded.pipeline, spec_yaml = excluded.spec_yaml,
                next_tick = CASE WHEN schedules.spec_yaml = excluded.spec_yaml THEN schedules.next_tick
                                 ELSE excluded.next_tick END,
                updated_at = now()
            RETURNING xmax = 0
            """, logger: logger)
        var created = false
        for try await inserted in rows.decode(Bool.self) { created = inserted }
        return (spec, created)
    }

    /// Every schedule, by name, with its last tick.
    public func schedules() async throws -> [ScheduleView] {
        let rows = try await client.statement(
            """
            SELECT s.name, s.pipeline, s.spec_yaml, s.paused, s.next_tick, t.tick, t.outcome, t.run_id
            FROM schedules s
            LEFT JOIN LATERAL (SELECT tick, outcome, run_id FROM schedule_ticks WHERE schedule = s.name
                               ORDER BY fired_at DESC, tick DESC LIMIT 1) t ON true
            ORDER BY s.name
            """, logger: logger)
        var views: [ScheduleView] = []
        for try await (name, pipeline, yaml, paused, next, tick, outcome, runID) in rows.decode(
            (String, String, String, Bool, Date?, Date?, String?, UUID?).self)
        {
            let spec = try? ScheduleSpecParser.parse(yaml)
            views.append(
                ScheduleView(
                    name: name, pipeline: pipeline, cron: spec?.cron.description ?? "?",
                    timeZone: spec?.timeZone.identifier ?? "?",
                    concurrencyPolicy: spec?.concurrencyPolicy.rawValue ?? "?", paused: paused, nextTick: next,
                    lastTick: tick, lastOutcome: outcome, lastRunID: runID))
        }
        return views
    }

    /// Holds or releases a schedule's ticks; resuming fires nothing missed while paused (the
    /// next tick is counted from now). `false` when no schedule has this name.
    public func setSchedulePaused(_ name: String, paused: Bool) async throws -> Bool {
        guard let yaml = try await scheduleYAML(name) else { return false }
        let spec = try ScheduleSpecParser.parse(yaml)
        let next = spec.cron.next(after: try await databaseNow(), in: spec.timeZone)
        let rows = try await client.statement(
            """
            UPDATE schedules SET paused = \(paused), updated_at = now(),
                next_tick = CASE WHEN \(paused) THEN next_tick ELSE \(next) END
            WHERE name = \(name) RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Fires a tick of schedule `name` now, paused or not, with its concurrency policy; `nil`
    /// when no schedule has this name.
    public func triggerSchedule(_ name: String) async throws -> ScheduleFiring? {
        try await transaction { connection in
            let rows = try await connection.query(
                "SELECT spec_yaml, now() FROM schedules WHERE name = \(name) FOR UPDATE", logger: logger)
            for try await (yaml, now) in rows.decode((String, Date).self) {
                let spec = try ScheduleSpecParser.parse(yaml)
                return try await fire(spec, tick: now, manual: true, on: connection)
            }
            return nil
        }
    }

    /// Fires the due ticks of up to `limit` schedules: per schedule the latest due tick and at
    /// most `catchUp` missed ones before it (looking back at most a day), each once, in the
    /// transaction that moves the schedule's next tick on. Schedules another coordinator is
    /// firing are skipped (`SKIP LOCKED`).
    public func fireDueSchedules(limit: Int = 20) async throws -> [ScheduleFiring] {
        try await transaction { connection in
            let rows = try await connection.query(
                """
                SELECT spec_yaml, next_tick, now() FROM schedules
                WHERE NOT paused AND next_tick <= now() ORDER BY next_tick LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var due: [(String, Date, Date)] = []
            for try await row in rows.decode((String, Date, Date).self) { due.append(row) }
            var firings: [ScheduleFiring] = []
            for (yaml, nextTick, now) in due {
                let spec = try ScheduleSpecParser.parse(yaml)
                for tick in Self.dueTicks(spec, from: nextTick, now: now) {
                    if let deadline = spec.startingDeadline, now.timeIntervalSince(tick) > deadline.secondsDouble {
                        firings.append(
                            try await record(spec.name, tick: tick, outcome: "skipped_deadline", on: connection))
                    } else if let firing = try await fire(spec, tick: tick, manual: false, on: connection) {
                        firings.append(firing)
                    }
                }
                let next = spec.cron.next(after: now, in: spec.timeZone)
                try await connection.query(
                    "UPDATE schedules SET next_tick = \(next) WHERE name = \(spec.name)", logger: logger)
            }
            return firings
        }
    }

    /// The ticks to fire at `now` for a schedule whose next tick was `nextTick`: the last
    /// `catchUp + 1` of those due, none older than a day.
    static func dueTicks(_ spec: ScheduleSpec, from nextTick: Date, now: Date) -> [Date] {
        let horizon = now.addingTimeInterval(-86_400)
        var tick: Date? = nextTick >= horizon ? nextTick : spec.cron.next(after: horizon, in: spec.timeZone)
        var ticks: [Date] = []
        while let current = tick, current <= now {
            ticks.append(current)
            if ticks.count > spec.catchUp + 1 { ticks.removeFirst() }
            tick = spec.cron.next(after: current, in: spec.timeZone)
        }
        return ticks
    }

    /// Fires one tick: its row (once; `nil` when it was fired already), the concurrency policy,
    /// and the run request, in the caller's transaction.
    private func fire(_ spec: ScheduleSpec, tick: Date, manual: Bool, on connection: DatabaseSession)
        async throws -> ScheduleFiring?
    {
        let inserted = try await connection.query(
            """
            INSERT INTO schedule_ticks (schedule, tick, outcome, manual) VALUES (\(spec.name), \(tick), 'requested', \(manual))
            ON CONFLICT DO NOTHING RETURNING 1
            """, logger: logger)
        var fresh = false
        for try await _ in inserted { fresh = true }
        guard fresh else { return nil }
        let running = try await runningRuns(of: spec.name, on: connection)
        let caller = Caller(name: "schedule:\(spec.name)", scopes: [.runsSubmit, .runsCancel])
        if !running.isEmpty {
            switch spec.concurrencyPolicy {
            case .allow:
                break
            case .forbid:
                return try await record(spec.name, tick: tick, outcome: "skipped_running", on: connection)
            case .replace:
                for runID in running {
                    let cancel = try runEvent(
                        .runCancel, runID: runID, stage: nil,
                        payload: RunCancel(
                            runId: runID, reason: "replaced by schedule \(spec.name)'s tick", requestedBy: caller.name))
                    try await enqueue(cancel, topic: topics.runEvents, key: runID.lowercased, on: connection)
                }
            }
        }
        let stamp = tick.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let request = PipelineRequested(
            pipeline: spec.pipeline, params: spec.params, idempotencyKey: "schedule/\(spec.name)/\(stamp)",
            runId: UUID(), labels: ["schedule": spec.name, "schedule_tick": stamp], requestedBy: caller.name)
        if let problem = try await problem(with: request) {
            return try await record(spec.name, tick: tick, outcome: "refused", reason: problem, on: connection)
        }
        let event = try CloudEvent(
            source: source, type: .pipelineRequested, subject: "run/\(request.runId!.lowercased)", payload: request)
        let runID: UUID
        switch try await accept(request, event: event, topic: topics.requested, caller: caller, on: connection) {
        case .accepted(let id), .existing(let id): runID = id
        }
        return try await record(spec.name, tick: tick, outcome: "requested", runID: runID, on: connection)
    }

    /// Sets a fired tick's outcome (writing its row when the tick was not fired before).
    private func record(
        _ schedule: String, tick: Date, outcome: String, runID: UUID? = nil, reason: String? = nil,
        on connection: DatabaseSession
    ) async throws -> ScheduleFiring {
        try await connection.query(
            """
            INSERT INTO schedule_ticks (schedule, tick, outcome, run_id, reason)
            VALUES (\(schedule), \(tick), \(outcome), \(runID), \(reason))
            ON CONFLICT (schedule, tick) DO UPDATE SET outcome = excluded.outcome, run_id = excluded.run_id,
                reason = excluded.reason
            """, logger: logger)
        return ScheduleFiring(schedule: schedule, tick: tick, outcome: outcome, runID: runID, reason: reason)
    }

    /// The schedule's runs still running, and those requested in the last five minutes that the
    /// coordinator has not made yet.
    private func runningRuns(of schedule: String, on connection: DatabaseSession) async throws -> [UUID] {
        let rows = try await connection.query(
            """
            SELECT t.run_id FROM schedule_ticks t LEFT JOIN runs r ON r.id = t.run_id
            WHERE t.schedule = \(schedule) AND t.run_id IS NOT NULL
              AND (r.state = 'running' OR (r.id IS NULL AND t.fired_at > now() - interval '5 minutes'))
            """, logger: logger)
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    private func scheduleYAML(_ name: String) async throws -> String? {
        let rows = try await client.statement("SELECT spec_yaml FROM schedules WHERE name = \(name)", logger: logger)
        for try await yaml in rows.decode(String.self) { return yaml }
        return nil
    }

    private func databaseNow() async throws -> Date {
        for try await now in try await client.statement("SELECT now()", logger: logger).decode(Date.self) { return now }
        return Date()
    }
}
