import BatonCore
import BatonTestSupport
import Foundation
import PostgresNIO
import Testing

@testable import BatonStore

/// Which champions the sweeper keeps served (`RegistryStore.servedChampions`) and the record of a
/// restore, on a real database.
extension ModelRegistryTests {
    /// Queues an attempt of the run's `rollout` stage (making the stage), and claims it unless
    /// `claimed` is false.
    func rolloutAttempt(_ store: BatonStore, run: UUID, claimed: Bool = true) async throws -> (UUID, ClaimedAttempt?) {
        try await store.client.query(
            """
            INSERT INTO stages (run_id, name, position, kind, pool, state, attempts)
            VALUES (\(run), 'rollout', 9, 'rollout', 'default', 'running', 1) ON CONFLICT DO NOTHING
            """)
        let id = UUID()
        try await store.client.query(
            """
            INSERT INTO stage_attempts (id, run_id, stage, attempt, state, pool, timeout_ms, kind)
            VALUES (\(id), \(run), 'rollout', 1, 'queued', 'default', 60000, 'rollout')
            """)
        guard claimed else { return (id, nil) }
        return (id, try #require(try await store.attempts.claimAttempt(id, owner: "test", lease: .seconds(30))))
    }

    /// Ends a claimed rollout attempt of `version` on `target` as the rollout executor does.
    func finishRollout(
        _ store: BatonStore, _ claim: ClaimedAttempt, version: Int, stable: Int?, target: String, succeeded: Bool
    ) async throws {
        let ended = RolloutEnded(
            runId: claim.runID, stage: claim.stage, attemptId: claim.id, model: "ko-llm", candidateVersion: version,
            stableVersion: stable, target: target, reason: succeeded ? nil : "step 1 (analysis errors): failed")
        let outcome = claim.outcome(
            succeeded ? .succeeded : .failed, error: ended.reason,
            errorType: succeeded ? nil : RunPlanner.rolloutAbortedErrorType)
        #expect(
            try await store.registry.finishRollout(
                claim, ended: ended, succeeded: succeeded, registerAlias: "candidate")
                == outcome)
    }

    func served(_ store: BatonStore, _ target: String = "ray-serve", after: String = "") async throws -> [String] {
        try await store.registry.servedChampions(target: target, after: after, limit: 10).map {
            "\($0.model)@v\($0.version)\($0.isRollingOut ? " rolling out" : "")"
        }
    }

    @Test(
        "A champion a ray-serve rollout put in place is kept served, skipped while a rollout of its model runs, and not after a move by hand"
    )
    func servedChampions() async throws {
        try await ScratchDatabase.create().withStore { store in
            // v1: registered, rolled out to Ray Serve, champion.
            let first = try await registrable(store)
            let v1 = try registered(try await store.registry.register(first.claim, Self.register, upstreamStages: []))
            let (_, rolling) = try await rolloutAttempt(store, run: first.run)
            let claim = try #require(rolling)
            #expect(try await served(store).isEmpty, "no champion while the first rollout runs")
            try await finishRollout(
                store, claim, version: v1.version, stable: nil, target: "ray-serve", succeeded: true)
            let champions = try await store.registry.servedChampions(target: "ray-serve", after: "", limit: 10)
            #expect(
                champions == [
                    ServedChampion(
                        model: "ko-llm", version: 1, artifactURI: v1.artifactURI, artifactMD5: v1.artifactMD5,
                        isRollingOut: false)
                ])
            #expect(try await served(store, "argo").isEmpty, "Ray Serve's champion is not Argo's")
            #expect(try await served(store, after: "ko-llm").isEmpty)

            // v2: registered, its rollout queued, then running, then aborted: v1 stays champion.
            let second = try await registrable(store)
            let v2 = try registered(try await store.registry.register(second.claim, Self.register, upstreamStages: []))
            let (queued, _) = try await rolloutAttempt(store, run: second.run, claimed: false)
            #expect(try await served(store) == ["ko-llm@v1 rolling out"])
            let canary = try #require(try await store.attempts.claimAttempt(queued, owner: "test", lease: .seconds(30)))
            #expect(try await served(store) == ["ko-llm@v1 rolling out"])
            try await finishRollout(
                store, canary, version: v2.version, stable: 1, target: "ray-serve", succeeded: false)
            #expect(try await served(store) == ["ko-llm@v1"])

            // Moved by hand to v2, which no rollout served: not Baton's to restore. Back to v1: again.
            _ = try await store.registry.promote(model: "ko-llm", alias: "champion", to: 2, actor: "alice", reason: nil)
            #expect(try await served(store).isEmpty)
            _ = try await store.registry.rollback(model: "ko-llm", alias: "champion", actor: "alice", reason: nil)
            #expect(try await served(store) == ["ko-llm@v1"])

            // A restore is recorded as model.restored, keyed by the model; no alias moves.
            let moves = try await count(store, "SELECT count(*)::int FROM model_alias_events")
            let restored = ModelRestored(
                model: "ko-llm", version: 1, artifactUri: v1.artifactURI, target: "ray-serve",
                reason: "router application ko-llm missing")
            try await store.registry.recordRestore(restored)
            let rows = try await store.client.query(
                "SELECT key, subject, payload FROM outbox WHERE event_type = 'model.restored'")
            var events: [(String?, String?, ModelRestored)] = []
            for try await (key, subject, payload) in rows.decode((String?, String?, ByteBuffer).self) {
                events.append(
                    (key, subject, try JSONDecoder().decode(ModelRestored.self, from: Data(payload.readableBytesView))))
            }
            #expect(events.count == 1)
            #expect(events.first?.0 == "ko-llm" && events.first?.1 == "model/ko-llm" && events.first?.2 == restored)
            #expect(try await count(store, "SELECT count(*)::int FROM model_alias_events") == moves)
        }
    }
}
