import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// Gates through a running `baton serve`: a pass, a rejection against the champion that stops the
/// stages after the gate, and a condition that cannot be evaluated (a failure, not a rejection).
@Suite("Gates end to end", .serialized, .timeLimit(.minutes(5)))
struct GateEndToEndTests {
    static let condition =
        "stages.evaluate.metrics.accuracy >= params.min_accuracy && (!has(champion) || "
        + "stages.evaluate.metrics.accuracy >= champion.metrics.accuracy - 0.01)"

    /// evaluate (a noop that reports `metrics`) -> gate -> register -> rollout (noops standing in).
    static func spec(metrics: String) -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: gated}
        params: {min_accuracy: {type: number, default: 0.85}}
        stages:
          - {name: evaluate, kind: noop, noop: {metrics: \(metrics)}}
          - name: gate
            kind: gate
            needs: [evaluate]
            retries: 0
            gate: {model: ko-llm, condition: "\(condition)"}
          - {name: register, kind: noop, needs: [gate]}
          - {name: rollout, kind: noop, needs: [register]}
        """
    }

    func submit(_ fixture: EngineFixture, metrics: String) async throws -> UUID {
        let result = try await fixture.baton("submit", try fixture.specFile(Self.spec(metrics: metrics)))
        return try #require(UUID(uuidString: result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Makes version 1 of ko-llm, with evaluate accuracy `accuracy` in its snapshot, the champion.
    func makeChampion(_ fixture: EngineFixture, run: UUID, accuracy: Double) async throws {
        let snapshot = #"{"evaluate": {"accuracy": \#(accuracy)}}"#
        try await fixture.withStore { store in
            try await store.client.withTransaction(logger: TestStack.logger) { connection in
                try await connection.query(
                    "INSERT INTO models (name, last_version) VALUES ('ko-llm', 1)", logger: TestStack.logger)
                try await connection.query(
                    """
                    WITH artifact AS (
                        INSERT INTO artifacts (uri, md5) VALUES ('file:///models/ko-llm/1', 'd41d8cd98f00b204e9800998ecf8427e')
                        RETURNING id
                    )
                    INSERT INTO model_versions (model, version, artifact_id, run_id, stage, attempt_id, metrics)
                    SELECT 'ko-llm', 1, artifact.id, \(run), 'register', a.id, \(snapshot)::jsonb
                    FROM artifact, stage_attempts a WHERE a.run_id = \(run) AND a.stage = 'register'
                    """, logger: TestStack.logger)
                try await connection.query(
                    "INSERT INTO model_aliases (model, alias, version) VALUES ('ko-llm', 'champion', 1)",
                    logger: TestStack.logger)
            }
        }
    }

    @Test(
        "Pass without a champion; rejected_by_gate against the champion, nothing after the gate runs; unreadable metric fails"
    )
    func passRejectAndError() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("gates")

        // 1. First model: no champion, so the threshold alone decides.
        let first = try await submit(fixture, metrics: "{accuracy: 0.9}")
        let firstRun = try #require(try await fixture.waitForRuns([first]).first)
        #expect(firstRun.state == .succeeded)
        #expect(firstRun.stages.map(\.state) == [.succeeded, .succeeded, .succeeded, .succeeded])
        let passed = try #require(firstRun.stages[1].attemptHistory.last?.gate)
        #expect(passed.passed && passed.failedClause == nil && passed.championVersion == nil)
        #expect(
            passed.observed == [
                "stages.evaluate.metrics.accuracy": .double(0.9), "params.min_accuracy": .double(0.85),
                "champion": .null, "champion.metrics.accuracy": .null,
            ])

        // 2. A champion at 0.95: 0.9 clears the threshold but not the champion; submit --wait says so.
        try await makeChampion(fixture, run: first, accuracy: 0.95)
        let waited = try await fixture.baton(
            "submit", try fixture.specFile(Self.spec(metrics: "{accuracy: 0.9}")), "--wait", "--timeout", "60")
        #expect(waited.status == 3, "submit --wait exits 3 for rejected_by_gate: \(waited.output)")
        let second = try #require(
            UUID(uuidString: waited.output.split(separator: "\n").first.map(String.init) ?? ""))
        let secondRun = try #require(try await fixture.waitForRuns([second]).first)
        let clause = "stages.evaluate.metrics.accuracy >= champion.metrics.accuracy - 0.01: 0.9 >= 0.94 is false"
        #expect(secondRun.state == .rejectedByGate)
        #expect(secondRun.reason == "stage gate rejected the run: \(clause)")
        #expect(secondRun.stages.map(\.state) == [.succeeded, .rejected, .skipped, .skipped])
        #expect(secondRun.stages[1].attemptHistory.map(\.state) == [.rejected], "a rejection is never retried")
        #expect(secondRun.stages[2].attemptHistory.isEmpty && secondRun.stages[3].attemptHistory.isEmpty)
        let rejected = try #require(secondRun.stages[1].attemptHistory.last?.gate)
        #expect(!rejected.passed && rejected.failedClause == clause)
        #expect(rejected.model == "ko-llm" && rejected.championVersion == 1)
        #expect(rejected.observed["champion.metrics.accuracy"] == .double(0.95))
        #expect(
            try await fixture.count(
                """
                SELECT count(*)::int FROM gate_decisions
                WHERE run_id = \(second) AND NOT passed AND failed_clause = \(clause) AND champion_version = 1
                  AND (observed->>'stages.evaluate.metrics.accuracy')::float8 = 0.9
                """) == 1)
        for (type, run) in [("gate.passed", first), ("gate.failed", second), ("run.rejected_by_gate", second)] {
            #expect(
                try await fixture.count(
                    "SELECT count(*)::int FROM outbox WHERE event_type = \(type) AND key = \(run.lowercased)") == 1,
                "\(type)")
        }
        let documented = try await fixture.withStore { store in
            var binds = PostgresBindings()
            binds.append(second)
            let query = try DocumentedQuery.lineage("gate-rejection")
            let rows = try await store.client.query(
                PostgresQuery(unsafeSQL: "SELECT q.state, q.failed_clause FROM (\(query)) q", binds: binds))
            var result: [String] = []
            for try await (state, failedClause) in rows.decode((String, String?).self) {
                result.append("\(state): \(failedClause ?? "-")")
            }
            return result
        }
        #expect(documented == ["rejected_by_gate: \(clause)"], "the query of docs/lineage.md")
        let shown = try await fixture.baton("runs", "show", second.lowercased)
        #expect(shown.output.contains("state     rejected_by_gate — stage gate rejected the run: \(clause)"))
        #expect(shown.output.contains("gate (gate, attempt 1): REJECTED"))
        #expect(shown.output.contains("  failed     \(clause)"))
        #expect(shown.output.contains("  observed   champion.metrics.accuracy = 0.95"))
        #expect(shown.output.contains("  champion   ko-llm v1"))

        // 3. evaluate never reports accuracy: the gate cannot decide, which is a failure.
        let third = try await submit(fixture, metrics: "{latency: 1.5}")
        let thirdRun = try #require(try await fixture.waitForRuns([third]).first)
        #expect(thirdRun.state == .failed)
        let attempt = try #require(thirdRun.stages[1].attemptHistory.last)
        #expect(attempt.state == .failed && attempt.errorType == "gate_error" && attempt.gate == nil)
        #expect(
            attempt.error
                == "gate condition could not be evaluated: column 1: 'stages.evaluate.metrics.accuracy' has no value")
        #expect(thirdRun.stages.map(\.state) == [.succeeded, .failed, .cancelled, .cancelled])

        await serve.stop()
    }

    @Test("A malformed gate is rejected at submit time with the column of the error")
    func malformedAtSubmit() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("malformed-gate")
        let yaml = Self.spec(metrics: "{accuracy: 0.9}")
            .replacingOccurrences(of: "accuracy - 0.01)", with: "accuracy - )")
        let result = try await fixture.baton("submit", try fixture.specFile(yaml), "--wait", "--timeout", "30")
        #expect(result.status != 0)
        #expect(result.output.contains("stage gate.gate.condition: column 143: unexpected ')'"), "\(result.output)")
        await serve.stop()
    }
}
