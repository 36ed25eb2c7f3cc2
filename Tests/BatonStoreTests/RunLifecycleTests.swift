import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// The coordinator's and worker's transactions, driven directly against a real database.
@Suite("Run lifecycle in PostgreSQL", .serialized, .timeLimit(.minutes(3)))
struct RunLifecycleTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: pair}
        params: {epochs: {type: integer, default: 1}}
        defaults: {retries: {limit: 1, backoff: 1s}}
        stages:
          - {name: first, kind: noop}
          - {name: second, kind: noop, needs: [first]}
        """

    func request(_ payload: PipelineRequested, id: String = UUID().uuidString) throws -> CloudEvent {
        try CloudEvent(id: id, source: "test", type: .pipelineRequested, payload: payload)
    }

    /// Starts a run of ``spec`` and claims its first stage's attempt for worker `w1`.
    func firstClaimed(_ store: BatonStore) async throws -> ClaimedAttempt {
        guard
            case .created(let runID) = try await store.runs.handleRequest(
                consumer: "c", policy: .tests, event: try request(PipelineRequested(spec: Self.spec)))
        else { throw TestPreconditionFailed() }
        return try #require(
            try await store.attempts.claimAttempt(
                try await queuedAttempt(store, run: runID, stage: "first"), owner: "w1", lease: .seconds(30)))
    }

    func queuedAttempt(_ store: BatonStore, run: UUID, stage: String) async throws -> UUID {
        let rows = try await store.client.query(
            "SELECT id FROM stage_attempts WHERE run_id = \(run) AND stage = \(stage) AND state = 'queued'")
        for try await id in rows.decode(UUID.self) { return id }
        throw TestPreconditionFailed()
    }

    @Test("The same event twice, or the same idempotency key twice, makes one run")
    func dedupe() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let event = try request(PipelineRequested(spec: Self.spec, runId: UUID()))
            guard
                case .created(let runID) = try await store.runs.handleRequest(
                    consumer: "c", policy: .tests, event: event)
            else {
                Issue.record("first delivery should create a run")
                return
            }
            #expect(
                try await store.runs.handleRequest(consumer: "c", policy: .tests, event: event)
                    == .duplicate(runID: runID))
            let keyed = PipelineRequested(spec: Self.spec, idempotencyKey: "nightly-1")
            guard
                case .created(let keyedRun) = try await store.runs.handleRequest(
                    consumer: "c", policy: .tests, event: try request(keyed))
            else {
                Issue.record("keyed request should create a run")
                return
            }
            #expect(
                try await store.runs.handleRequest(consumer: "c", policy: .tests, event: try request(keyed))
                    == .duplicate(runID: keyedRun))
            let rows = try await store.client.query("SELECT count(*) FROM runs")
            for try await count in rows.decode(Int.self) { #expect(count == 2) }
        }
    }

    @Test("Bad requests are rejected with a reason and create nothing")
    func rejections() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            let cyclic = Self.spec.replacingOccurrences(
                of: "{name: first, kind: noop}", with: "{name: first, kind: noop, needs: [second]}")
            let cases: [(PipelineRequested, String)] = [
                (PipelineRequested(spec: "stages: [unclosed"), "not valid YAML"),
                (PipelineRequested(spec: cyclic), "cycle: first -> second -> first"),
                (PipelineRequested(spec: Self.spec, params: ["epocs": .int(2)]), "unknown param 'epocs'"),
                (PipelineRequested(spec: Self.spec, params: ["epochs": .string("many")]), "must be of type integer"),
                (PipelineRequested(pipeline: "never-applied"), "unknown pipeline"),
                (PipelineRequested(), "request names no pipeline"),
            ]
            for (payload, expected) in cases {
                let outcome = try await store.runs.handleRequest(
                    consumer: "c", policy: .tests, event: try request(payload))
                guard case .rejected(let reason) = outcome else {
                    Issue.record("expected rejection containing \(expected), got \(outcome)")
                    continue
                }
                #expect(reason.contains(expected), "\(reason)")
            }
            let rows = try await store.client.query(
                """
                SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM outbox WHERE event_type = 'run.rejected'),
                       (SELECT count(*) FROM inbox WHERE outcome = 'rejected')
                """)
            for try await (runs, events, inbox) in rows.decode((Int, Int, Int).self) {
                #expect(runs == 0)
                #expect(events == cases.count)
                #expect(inbox == cases.count)
            }
        }
    }

    @Test("A worker whose lease expired is fenced out; the stage gets a fresh attempt")
    func fencing() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            guard
                case .created(let runID) = try await store.runs.handleRequest(
                    consumer: "c", policy: .tests, event: try request(PipelineRequested(spec: Self.spec)))
            else { throw TestPreconditionFailed() }
            let attemptID = try await queuedAttempt(store, run: runID, stage: "first")
            let claim = try #require(
                try await store.attempts.claimAttempt(attemptID, owner: "stalled", lease: .seconds(30)))
            #expect(try await store.attempts.claimAttempt(attemptID, owner: "other", lease: .seconds(30)) == nil)
            // The worker stalls past its lease.
            try await store.client.query(
                "UPDATE stage_attempts SET lease_expires_at = now() - interval '1 second' WHERE id = \(attemptID)")
            let report = try await store.attempts.sweep(
                redriveAfter: .seconds(60), queueTimeout: .seconds(3600), workerTimeout: .seconds(30))
            #expect(report.lost == 1)
            #expect(try await store.attempts.finishAttempt(claim, state: .succeeded, countingExecution: true) == nil)
            #expect(try await store.attempts.renewLease(claim, lease: .seconds(30)) == false)
            #expect(try await store.attempts.recordExecution(claim) == false)
            // A direct hand-off of an end the database does not hold changes nothing: the sweeper's
            // end is its own event's to apply.
            #expect(
                try await store.runs.applyOutcome(
                    claim.outcome(.succeeded), consumer: "c", claimingFor: "stalled", pool: "default",
                    lease: .seconds(30)) == nil)
            // Fenced out, the end counted no execution either.
            #expect(try await store.runs.run(runID)?.stages[0].attemptHistory.map(\.state) == [.lost])
            #expect(try await store.runs.run(runID)?.stages[0].attemptHistory.map(\.executions) == [0])
            // The coordinator consumes the sweeper's outcome and queues attempt 2 at once.
            let outcome = StageOutcome(
                runId: runID, stage: "first", attemptId: attemptID, attempt: 1, state: .lost)
            let event = try CloudEvent(source: "test", type: .stageFailed, payload: outcome)
            #expect(try await store.runs.handleOutcome(consumer: "c", event: event, outcome: outcome))
            #expect(try await store.runs.handleOutcome(consumer: "c", event: event, outcome: outcome) == false)
            let view = try #require(try await store.runs.run(runID))
            #expect(view.stages[0].attemptHistory.map(\.state) == [.lost, .queued])
            #expect(view.stages[0].state == .ready)
        }
    }

    @Test(
        "A direct hand-off claims the next attempt of its pool in the outcome's transaction: running, leased, started, no stage.ready"
    )
    func claimedAtOnce() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            /// Starts a run of the spec and ends its first stage; the outcome to hand on.
            func firstEnded() async throws -> StageOutcome {
                let first = try await firstClaimed(store)
                // An instant stage's execution is counted in its end's write.
                return try #require(
                    try await store.attempts.finishAttempt(first, state: .succeeded, countingExecution: true))
            }
            /// The second stage's attempt and stage states and how many of each event it has in the outbox.
            func second(of runID: UUID) async throws -> [String] {
                let rows = try await store.client.query(
                    """
                    SELECT a.state || '/' || coalesce(a.lease_owner, '-') || '/' || s.state || '/' ||
                        (SELECT string_agg(o.event_type, ',' ORDER BY o.id) FROM outbox o
                         WHERE o.subject = 'run/' || \(runID.lowercased) || '/stage/second')
                    FROM stage_attempts a JOIN stages s ON s.run_id = a.run_id AND s.name = a.stage
                    WHERE a.run_id = \(runID) AND a.stage = 'second'
                    """)
                var states: [String] = []
                for try await state in rows.decode(String.self) { states.append(state) }
                return states
            }
            // A claimant of another pool claims nothing: the attempt is queued with its stage.ready.
            let brokered = try await firstEnded()
            #expect(
                try await store.runs.applyOutcome(
                    brokered, consumer: "c", claimingFor: "w1", pool: "gpu", lease: .seconds(30)) == nil)
            #expect(try await second(of: brokered.runId) == ["queued/-/ready/stage.ready"])

            let direct = try await firstEnded()
            let next = try #require(
                try await store.runs.applyOutcome(
                    direct, consumer: "c", claimingFor: "w1", pool: "default", lease: .seconds(30)))
            #expect(next.stage == "second" && next.attempt == 1 && next.epoch == 1 && next.pipeline == "pair")
            #expect(next.params["epochs"] == .int(1))
            #expect(try await second(of: direct.runId) == ["running/w1/running/stage.started"])
            // Nobody else can claim it; the claimant's own writes go through under its epoch.
            #expect(try await store.attempts.claimAttempt(next.id, owner: "w2", lease: .seconds(30)) == nil)
            #expect(try await store.attempts.recordExecution(next))
            let last = try #require(try await store.attempts.finishAttempt(next, state: .succeeded))
            // The last stage queues nothing: no claim, and the run ends.
            #expect(
                try await store.runs.applyOutcome(
                    last, consumer: "c", claimingFor: "w1", pool: "default", lease: .seconds(30)) == nil)
            let view = try #require(try await store.runs.run(direct.runId))
            #expect(view.state == .succeeded)
            #expect(view.stages.map { $0.attemptHistory.map(\.executions) } == [[1], [1]])
        }
    }

    @Test(
        "A worker's end and hand-off are one transaction: the end, the outcome applied and the next attempt claimed commit together; a fenced end writes nothing"
    )
    func finishedAndHandedOff() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            func count(_ query: PostgresQuery) async throws -> Int {
                for try await value in try await store.client.query(query).decode(Int.self) { return value }
                return 0
            }
            let first = try await firstClaimed(store)
            let runID = first.runID
            // Fenced out (a stale epoch): nothing is written, not even the inbox's record.
            var stale = first
            stale.epoch += 1
            #expect(
                try await store.runs.finishAndApplyOutcome(
                    stale, state: .succeeded, countingExecution: true, consumer: "c", claimingFor: "w1",
                    pool: "default", lease: .seconds(30)) == nil)
            #expect(try await store.runs.run(runID)?.stages.map(\.state) == [.running, .pending])
            #expect(try await count("SELECT count(*)::int FROM inbox WHERE run_id = \(runID)") == 1)

            let finished = try #require(
                try await store.runs.finishAndApplyOutcome(
                    first, state: .succeeded, countingExecution: true, consumer: "c", claimingFor: "w1",
                    pool: "default", lease: .seconds(30)))
            #expect(finished.outcome.state == .succeeded && finished.outcome.attemptId == first.id)
            let next = try #require(finished.next)
            #expect(next.stage == "second" && next.epoch == 1)
            // One transaction wrote both attempts' rows (the same xmin), the end's time first.
            #expect(
                try await count(
                    """
                    SELECT count(DISTINCT xmin::text)::int FROM stage_attempts WHERE id IN (\(first.id), \(next.id))
                    """) == 1)
            let view = try #require(try await store.runs.run(runID))
            #expect(view.stages.map(\.state) == [.succeeded, .running])
            let ended = try #require(view.stages[0].attemptHistory.first?.finishedAt)
            #expect(next.startedAt >= ended)
            #expect(view.stages[0].attemptHistory.map(\.executions) == [1])
            // The outcome's event is written and recorded as applied by its worker: the
            // coordinator leaves it at that.
            var source = ""
            for try await written in try await store.client.query(
                "SELECT source FROM outbox WHERE event_type = 'stage.succeeded' AND subject LIKE '%/stage/first'"
            ).decode(String.self) { source = written }
            let event = try CloudEvent(source: source, type: .stageSucceeded, payload: finished.outcome)
            #expect(try await store.runs.outcomeApplied(event, outcome: finished.outcome, consumer: "c"))
            #expect(
                try await count(
                    """
                    SELECT count(*)::int FROM outbox WHERE subject = 'run/' || \(runID.lowercased) || '/stage/first'
                      AND event_type = 'stage.succeeded'
                    """) == 1)
            // The last stage ends the run in its end's transaction, and claims nothing.
            let last = try #require(
                try await store.runs.finishAndApplyOutcome(
                    next, state: .succeeded, consumer: "c", claimingFor: "w1", pool: "default", lease: .seconds(30)))
            #expect(last.next == nil)
            #expect(try await store.runs.run(runID)?.state == .succeeded)
        }
    }

    @Test(
        "A hand-off transaction that fails writes nothing, the end included; a run no longer running gets the end alone"
    )
    func handOffRefusals() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            // The planner cannot read the run's spec: the transaction fails after the end was
            // written in it, and rolls the end back too; the end alone (the worker's fallback) works.
            let first = try await firstClaimed(store)
            try await store.client.query("UPDATE runs SET spec_yaml = 'stages: [' WHERE id = \(first.runID)")
            await #expect(throws: (any Error).self) {
                try await store.runs.finishAndApplyOutcome(
                    first, state: .succeeded, consumer: "c", claimingFor: "w1", pool: "default", lease: .seconds(30))
            }
            #expect(try await store.runs.run(first.runID)?.stages[0].attemptHistory.map(\.state) == [.running])
            #expect(try await store.attempts.finishAttempt(first, state: .succeeded) != nil)

            // The run ended meanwhile (failed by an operator's hand) while the attempt still ran:
            // the end is written on its own, nothing is applied or claimed.
            let other = try await firstClaimed(store)
            try await store.client.query(
                "UPDATE runs SET state = 'failed', finished_at = now() WHERE id = \(other.runID)")
            let finished = try #require(
                try await store.runs.finishAndApplyOutcome(
                    other, state: .succeeded, consumer: "c", claimingFor: "w1", pool: "default", lease: .seconds(30)))
            #expect(finished.next == nil)
            let view = try #require(try await store.runs.run(other.runID))
            #expect(view.stages[0].attemptHistory.map(\.state) == [.succeeded])
            #expect(view.stages.map(\.state) == [.running, .pending])
        }
    }

    @Test("The database refuses illegal state transitions")
    func illegalTransitions() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            guard
                case .created(let runID) = try await store.runs.handleRequest(
                    consumer: "c", policy: .tests, event: try request(PipelineRequested(spec: Self.spec)))
            else { throw TestPreconditionFailed() }
            try await store.client.query("UPDATE runs SET state = 'succeeded' WHERE id = \(runID)")
            await #expect(throws: PSQLError.self) {
                try await store.client.query("UPDATE runs SET state = 'running' WHERE id = \(runID)")
            }
            await #expect(throws: PSQLError.self) {
                try await store.client.query(
                    "UPDATE stages SET state = 'succeeded' WHERE run_id = \(runID) AND name = 'second'")
            }
            await #expect(throws: PSQLError.self) {
                try await store.client.query(
                    "UPDATE stage_attempts SET state = 'succeeded' WHERE run_id = \(runID) AND state = 'queued'")
            }
        }
    }

    @Test("A forged or stale outcome does not move the run")
    func staleOutcome() async throws {
        let database = try await ScratchDatabase.create()
        try await database.withStore { store in
            guard
                case .created(let runID) = try await store.runs.handleRequest(
                    consumer: "c", policy: .tests, event: try request(PipelineRequested(spec: Self.spec)))
            else { throw TestPreconditionFailed() }
            let attemptID = try await queuedAttempt(store, run: runID, stage: "first")
            // The attempt never ran; an event claiming success must be ignored.
            let forged = StageOutcome(runId: runID, stage: "first", attemptId: attemptID, attempt: 1, state: .succeeded)
            let event = try CloudEvent(source: "test", type: .stageSucceeded, payload: forged)
            #expect(try await store.runs.handleOutcome(consumer: "c", event: event, outcome: forged) == false)
            #expect(try await store.runs.run(runID)?.stages.map(\.state) == [.ready, .pending])
        }
    }
}

struct TestPreconditionFailed: Error {}
