import BatonCore
import Foundation
import Testing

/// Each stage's body is read once, with the spec, into the ``StageBody`` of its kind.
@Suite("Typed stage bodies")
struct StageBodyTests {
    static let pipeline = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: bodies}
        params: {min_accuracy: {type: number, default: 0.85}}
        stages:
          - name: train
            outputs: [model]
            ray:
              entrypoint: python -m train
              runtime_env: {working_dir: jobs, env_vars: {MODE: fast}}
              resources: {cpus: 2, gpus: 1, memory: 8Gi, custom: {tpu: 1}}
          - name: evaluate
            kind: noop
            needs: [train]
            noop: {sleep: 2s, fail_attempts: 1, metrics: {accuracy: 0.9}}
          - {name: idle, kind: noop, needs: [train]}
          - name: gate
            kind: gate
            needs: [evaluate]
            gate: {condition: "stages.evaluate.metrics.accuracy >= params.min_accuracy"}
          - name: register
            kind: register
            needs: [gate]
            register: {model: ko-llm, artifact: stages.train.outputs.model, alias: staged}
          - name: rollout
            kind: rollout
            needs: [register]
            rollout: {target: argo, steps: [{setWeight: 50}, {pause: 1m}, {setWeight: 100}]}
        """

    func issues(_ yaml: String) -> [String] {
        do {
            _ = try PipelineSpecParser.parse(yaml)
            return []
        } catch let error as SpecError {
            return error.issues.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test("Every kind's body is read when the spec is, and the stage's kind is its body's")
    func eachKind() throws {
        let spec = try PipelineSpecParser.parse(Self.pipeline)
        let kinds = spec.stages.map { "\($0.name):\($0.kind.rawValue)" }
        #expect(
            kinds == [
                "train:ray", "evaluate:noop", "idle:noop", "gate:gate", "register:register", "rollout:rollout",
            ])
        let train = try #require(spec.stage(named: "train"))
        #expect(
            train.body
                == .ray(
                    RayStageSpec(
                        entrypoint: "python -m train",
                        runtimeEnv: ["working_dir": .string("jobs"), "env_vars": .object(["MODE": .string("fast")])],
                        resources: ResourceSpec(cpus: 2, gpus: 1, memory: 8 << 30, custom: ["tpu": 1]))))
        #expect(
            spec.stage(named: "evaluate")?.body
                == .noop(NoopStageSpec(sleep: .seconds(2), failAttempts: 1, metrics: ["accuracy": 0.9])))
        #expect(spec.stage(named: "idle")?.body == .noop(NoopStageSpec()))
        let gate = try #require(spec.stage(named: "gate")?.gate)
        #expect(gate.conditionSource == "stages.evaluate.metrics.accuracy >= params.min_accuracy")
        #expect(gate.model == nil && !gate.readsChampion)
        #expect(
            spec.stage(named: "register")?.body
                == .register(RegisterSpec(model: "ko-llm", stage: "train", output: "model", alias: "staged")))
        let rollout = try #require(spec.stage(named: "rollout")?.rollout)
        #expect(rollout.target == .argo)
        #expect(rollout.steps == [.setWeight(50), .pause(.seconds(60)), .setWeight(100)])
        // The typed views answer for their own kind only.
        #expect(train.gate == nil && train.noop == nil && spec.stage(named: "gate")?.ray == nil)
    }

    @Test("Settings of another kind on a stage are checked as JSON and ignored, as before")
    func foreignSettings() throws {
        let yaml = Self.pipeline.replacingOccurrences(
            of: "  - {name: idle, kind: noop, needs: [train]}",
            with: "  - {name: idle, kind: noop, needs: [train], ray: {entrypoint: echo}, gate: {condition: 'true'}}")
        let idle = try #require(try PipelineSpecParser.parse(yaml).stage(named: "idle"))
        #expect(idle.body == .noop(NoopStageSpec()))
        let refused = issues(yaml.replacingOccurrences(of: "gate: {condition: 'true'}", with: "rollout: {}"))
        #expect(refused == ["line 16: stage idle.rollout: is only for kind 'rollout', not noop"])
    }

    @Test("A bad body of each kind is refused with the message it always had")
    func badBodies() {
        let cases: [(String, String, String)] = [
            (
                "      entrypoint: python -m train", "      entrypoint: ''",
                "line 9: stages[0] (train).ray.entrypoint: is required"
            ),
            (
                "fail_attempts: 1", "fail_attempts: -1",
                "line 15: stages[1] (evaluate).noop.fail_attempts: must be a non-negative integer"
            ),
            (
                #"gate: {condition: "stages.evaluate.metrics.accuracy >= params.min_accuracy"}"#, "gate: {}",
                "line 20: stage gate.gate.condition: is required: an expression that must be true to pass"
            ),
            (
                "alias: staged}", "alias: Staged}",
                "line 24: stage register.register.alias: must be lower-case letters, digits, '_' or '-', starting "
                    + "with a letter (max 64)"
            ),
            (
                "{setWeight: 50}", "{setWeight: 150}",
                "line 28: stage rollout.rollout.steps[0]: setWeight must be an integer from 0 to 100"
            ),
        ]
        for (valid, invalid, message) in cases {
            let yaml = Self.pipeline.replacingOccurrences(of: valid, with: invalid)
            #expect(yaml != Self.pipeline, "\(valid) is not in the pipeline")
            #expect(issues(yaml) == [message])
        }
        #expect(
            issues(Self.pipeline.replacingOccurrences(of: "    register: {model", with: "    registr: {model")) == [
                "line 24: stages[4] (register).registr: unknown field (allowed: cache, gate, inputs, kind, name, needs, "
                    + "noop, outputs, params, pool, ray, register, retries, rollout, timeout, uses, when)"
            ])
    }

    @Test("A ray stage's fingerprint is made of its body's settings, byte for byte as written")
    func fingerprintFromBody() throws {
        let spec = try PipelineSpecParser.parse(Self.pipeline)
        let train = try #require(spec.stage(named: "train"))
        let ray = try #require(train.ray)
        let fingerprint = StageFingerprint(
            entrypoint: ray.entrypoint, code: "sha256:0123456789abcdef", runtimeEnv: ray.runtimeEnv,
            params: train.jobParams(run: ["min_accuracy": .double(0.85)]), inputs: [:], outputs: train.outputs)
        let expected =
            #"{"code":"sha256:0123456789abcdef","entrypoint":"python -m train","inputs":{},"outputs":["model"],"#
            + #""params":{"min_accuracy":0.85},"runtime_env":{"env_vars":{"MODE":"fast"}}}"#
        #expect(String(decoding: fingerprint.canonicalJSON(), as: UTF8.self) == expected)
        // sha256 of `expected`: a fingerprint is the hash of exactly these bytes.
        #expect(fingerprint.digest == "sha256:297083eeca9b203e349c245a6c7fad936204594b0b7a174d51b92c8a35c3480a")
    }
}
