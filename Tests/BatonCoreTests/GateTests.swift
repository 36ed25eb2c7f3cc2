import BatonCore
import Foundation
import Testing

@Suite("Gate specs")
struct GateSpecTests {
    static func spec(gate: String, extraStages: String = "") -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: gated}
        params: {min_accuracy: {type: number, default: 0.85}, profile: {type: string, default: tiny}}
        stages:
          - {name: evaluate, kind: noop}
          - {name: side, kind: noop}
          - name: gate
            kind: gate
            needs: [evaluate]
            gate: \(gate)
        \(extraStages)
        """
    }

    func problems(_ gate: String, extraStages: String = "") -> [String] {
        do {
            _ = try PipelineSpecParser.parse(Self.spec(gate: gate, extraStages: extraStages))
            return []
        } catch let error as SpecError {
            return error.issues.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test("A valid gate parses; the champion model defaults to the downstream register stage's")
    func valid() throws {
        let register = """
              - {name: register, kind: register, needs: [gate], register: {model: ko-llm, artifact: stages.evaluate.outputs.model}}
            """
        let yaml = Self.spec(
            gate:
                #"{condition: "stages.evaluate.metrics.accuracy >= params.min_accuracy && (!has(champion) || stages.evaluate.metrics.accuracy >= champion.metrics.accuracy - 0.01)"}"#,
            extraStages: register
        ).replacingOccurrences(
            of: "{name: evaluate, kind: noop}", with: "{name: evaluate, kind: noop, outputs: [model]}")
        let spec = try PipelineSpecParser.parse(yaml)
        let gate = try #require(spec.stage(named: "gate"))
        #expect(gate.gate?.readsChampion == true)
        #expect(spec.championModel(forGate: gate) == "ko-llm")
        let named = try PipelineSpecParser.parse(
            Self.spec(
                gate:
                    #"{model: other, condition: "stages.evaluate.metrics.accuracy >= champion.metrics.accuracy ?? 0"}"#)
        )
        #expect(named.championModel(forGate: try #require(named.stage(named: "gate"))) == "other")
    }

    @Test("Problems name the line, the stage, the field and the column")
    func problemsNamePlaceAndColumn() {
        let cases: [(String, String)] = [
            ("{}", "line 11: stage gate.gate.condition: is required: an expression that must be true to pass"),
            (
                #"{condition: "stages.evaluate.metrics.accuracy >= "}"#,
                "line 11: stage gate.gate.condition: column 37: unexpected end of expression"
            ),
            (
                #"{condition: "params.min_acuracy < 1"}"#,
                "line 11: stage gate.gate.condition: column 1: 'params.min_acuracy' is not a declared param"
            ),
            (
                #"{condition: "stages.side.metrics.accuracy > 0.5"}"#,
                "line 11: stage gate.gate.condition: column 1: 'side' in 'stages.side.metrics.accuracy' is not an "
                    + "upstream stage (add it to needs)"
            ),
            (
                #"{condition: "stages.evaluate.outputs.model > 0.5"}"#,
                "line 11: stage gate.gate.condition: column 1: unknown reference 'stages.evaluate.outputs.model' (use "
                    + "params.<name>, stages.<upstream stage>.metrics.<key>, champion.metrics.<key>, "
                    + "champion.stages.<stage>.metrics.<key> or has(champion))"
            ),
            (
                #"{condition: "stages.evaluate.metrics.accuracy >= params.profile"}"#,
                "line 11: stage gate.gate.condition: column 34: cannot order a number and a string with >="
            ),
            (
                #"{condition: "stages.evaluate.metrics.accuracy * 2"}"#,
                "line 11: stage gate.gate.condition: column 1: the condition yields a number, not true or false"
            ),
            (
                #"{condition: "true", threshold: 1}"#,
                "line 11: stage gate.gate.threshold: unknown field (allowed: condition, model)"
            ),
        ]
        for (gate, message) in cases {
            #expect(problems(gate) == [message], "\(gate)")
        }
    }

    @Test("Reading the champion needs a guard the author wrote, and a model")
    func championNeedsGuardAndModel() {
        let unguarded = problems(
            #"{model: ko-llm, condition: "stages.evaluate.metrics.accuracy >= champion.metrics.accuracy - 0.01"}"#)
        #expect(unguarded.count == 1)
        #expect(
            unguarded.first?.hasPrefix(
                "line 11: stage gate.gate.condition: column 37: 'champion.metrics.accuracy' is read without saying what happens when there is no champion yet"
            ) == true)
        let noModel = problems(
            #"{condition: "has(champion) && stages.evaluate.metrics.accuracy >= champion.metrics.accuracy"}"#)
        #expect(noModel.count == 1)
        #expect(
            noModel.first?.hasPrefix("line 11: stage gate.gate.model: is required when the condition reads champion")
                == true)
        #expect(
            problems(
                #"{model: ko-llm, condition: "has(champion) && stages.evaluate.metrics.accuracy >= champion.metrics.accuracy"}"#
            ).isEmpty)
    }

    @Test("The reference pipeline's gate guards its champion read")
    func referencePipeline() throws {
        let url = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "examples/korean-llm.yaml")
        let spec = try PipelineSpecParser.parse(String(decoding: try Data(contentsOf: url), as: UTF8.self))
        let gate = try #require(spec.stage(named: "gate"))
        #expect(gate.gate?.readsChampion == true)
        #expect(spec.championModel(forGate: gate) == "korean-llm")
    }
}

@Suite("Gate decisions")
struct GateDecisionTests {
    let gate = try! GateSpec.read(
        .object([
            "condition": .string(
                "stages.evaluate.metrics.accuracy >= params.min_accuracy && (!has(champion) || "
                    + "stages.evaluate.metrics.accuracy >= champion.metrics.accuracy - 0.01)")
        ])
    ).get()

    func inputs(accuracy: Double?, champion: Double?) -> GateInputs {
        GateInputs(
            params: ["min_accuracy": .double(0.85)],
            stageMetrics: accuracy.map { ["evaluate": ["accuracy": $0]] } ?? [:],
            champion: champion.map {
                GateInputs.Champion(model: "ko", version: 3, metrics: ["evaluate": ["accuracy": $0, "latency": 1.2]])
            })
    }

    @Test("The first model (no champion) passes on the threshold alone; every value read is recorded")
    func firstModel() throws {
        let decision = try gate.decide(inputs(accuracy: 0.9, champion: nil))
        #expect(decision.passed)
        #expect(decision.failedClause == nil)
        #expect(
            decision.observed == [
                "stages.evaluate.metrics.accuracy": .double(0.9), "params.min_accuracy": .double(0.85),
                "champion": .null, "champion.metrics.accuracy": .null,
            ])
    }

    @Test("A miss names the failing clause with its values")
    func rejection() throws {
        let low = try gate.decide(inputs(accuracy: 0.62, champion: nil))
        #expect(!low.passed)
        #expect(low.failedClause == "stages.evaluate.metrics.accuracy >= params.min_accuracy: 0.62 >= 0.85 is false")
        let worse = try gate.decide(inputs(accuracy: 0.86, champion: 0.9))
        #expect(
            worse.failedClause
                == "stages.evaluate.metrics.accuracy >= champion.metrics.accuracy - 0.01: 0.86 >= 0.89 is false")
        #expect(worse.observed["champion"] == .object(["model": .string("ko"), "version": .int(3)]))
    }

    @Test("A metric the upstream stage never reported is an error, not a rejection")
    func missingMetric() {
        let error = #expect(throws: ExpressionError.self) { try gate.decide(inputs(accuracy: nil, champion: nil)) }
        #expect(error?.description == "column 1: 'stages.evaluate.metrics.accuracy' has no value")
    }

    @Test("champion.metrics.<key> held by several snapshot stages is ambiguous; the stage form is not")
    func ambiguousChampionKey() throws {
        let champion = GateInputs.Champion(
            model: "ko", version: 2, metrics: ["sft": ["loss": 1.5], "rlhf": ["loss": 1.1]])
        let inputs = GateInputs(params: [:], stageMetrics: ["rlhf": ["loss": 1.0]], champion: champion)
        let plain = try GateSpec.read(
            .object(["condition": .string("stages.rlhf.metrics.loss <= champion.metrics.loss ?? 9")])
        ).get()
        let error = #expect(throws: ExpressionError.self) { try plain.decide(inputs) }
        #expect(error?.message.hasPrefix("'champion.metrics.loss' is ambiguous: stages rlhf, sft of ko v2") == true)
        let explicit = try GateSpec.read(
            .object(["condition": .string("stages.rlhf.metrics.loss <= champion.stages.rlhf.metrics.loss ?? 9")])
        ).get()
        #expect(try explicit.decide(inputs).passed)
    }
}

@Suite("Gate planning")
struct GatePlanningTests {
    let planner: RunPlanner
    let runID = UUID()

    init() throws {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: gated}
            defaults: {retries: 3}
            stages:
              - {name: evaluate, kind: noop}
              - {name: docs, kind: noop}
              - {name: gate, kind: gate, needs: [evaluate], gate: {condition: "stages.evaluate.metrics.accuracy > 0.8"}}
              - {name: register, kind: noop, needs: [gate]}
              - {name: rollout, kind: noop, needs: [register]}
            """
        planner = RunPlanner(spec: try PipelineSpecParser.parse(yaml), params: [:])
    }

    @Test("A rejection rejects the gate, skips what follows, cancels the rest and ends rejected_by_gate, without retry")
    func rejection() {
        let clause = "stages.evaluate.metrics.accuracy > 0.8: 0.62 > 0.8 is false"
        let outcome = StageOutcome(
            runId: runID, stage: "gate", attemptId: UUID(), attempt: 1, state: .rejected, error: clause,
            errorType: "rejected_by_gate")
        let actions = planner.apply(
            outcome,
            states: [
                "evaluate": .succeeded, "docs": .running, "gate": .running, "register": .pending, "rollout": .pending,
            ],
            countedAttempts: 1, lostAttempts: 0)
        let reason = "stage gate rejected the run: \(clause)"
        #expect(
            actions == [
                .finishStage(stage: "gate", state: .rejected, error: clause),
                .skipStage(stage: "register", reason: "not run: \(reason)"),
                .skipStage(stage: "rollout", reason: "not run: \(reason)"),
                .cancelUnfinishedStages(reason: "run rejected: \(reason)"),
                .finishRun(state: .rejectedByGate, reason: reason),
            ])
    }

    @Test("A gate that passes unlocks what follows; one that cannot be evaluated is retried like a failure")
    func passAndError() {
        let states: [String: StageState] = [
            "evaluate": .succeeded, "docs": .succeeded, "gate": .running, "register": .pending, "rollout": .pending,
        ]
        let passed = StageOutcome(runId: runID, stage: "gate", attemptId: UUID(), attempt: 1, state: .succeeded)
        #expect(
            planner.apply(passed, states: states, countedAttempts: 1, lostAttempts: 0) == [
                .finishStage(stage: "gate", state: .succeeded, error: nil),
                .queueAttempt(stage: "register", attempt: 1, delay: .zero),
            ])
        let broken = StageOutcome(
            runId: runID, stage: "gate", attemptId: UUID(), attempt: 1, state: .failed, error: "no value",
            errorType: "gate_error")
        let actions = planner.apply(broken, states: states, countedAttempts: 1, lostAttempts: 0)
        #expect(actions.count == 1)
        if case .queueAttempt(stage: "gate", attempt: 2, _) = actions.first {
        } else {
            Issue.record("expected a retry, got \(actions)")
        }
    }

    @Test("States: rejected is terminal and reachable only from running; rejected_by_gate ends a run")
    func states() {
        #expect(StageState.rejected.isTerminal && !StageState.rejected.satisfiesDependents)
        #expect(StageState.running.canMove(to: .rejected) && !StageState.ready.canMove(to: .rejected))
        #expect(AttemptState.running.canMove(to: .rejected) && AttemptState.rejected.isTerminal)
        #expect(RunState.rejectedByGate.isTerminal)
        #expect(EventType.outcome(of: .rejected, cached: false) == .stageFailed)
    }
}
