import BatonCore
import Foundation
import Testing

@Suite("Stage fingerprints and cache settings")
struct StageFingerprintTests {
    static func fingerprint(
        code: String? = "sha256:0123456789abcdef",
        params: [String: JSONValue] = ["lr": .double(0.0002), "seed": .int(7)],
        inputs: [String: String] = ["dataset": "0cc175b9c0f1b6a831c399e269772661"],
        runtimeEnv: [String: JSONValue] = ["working_dir": .string("/home/a/jobs")]
    ) -> StageFingerprint {
        StageFingerprint(
            entrypoint: "python -m baton_jobs.sft", code: code, runtimeEnv: runtimeEnv, params: params, inputs: inputs,
            outputs: ["model"])
    }

    @Test("Equal ingredients give one digest, whatever the key order or where the code folder lies")
    func stableDigest() {
        let base = Self.fingerprint()
        let reordered = Self.fingerprint(
            params: ["seed": .int(7), "lr": .double(0.0002)],
            runtimeEnv: ["working_dir": .string("/elsewhere/jobs")])
        #expect(base.digest == reordered.digest)
        #expect(base.digest.hasPrefix("sha256:") && base.digest.count == 71)
        #expect(Self.fingerprint(params: ["lr": .double(0.0003), "seed": .int(7)]).digest != base.digest)
        #expect(Self.fingerprint(code: "sha256:fedcba9876543210").digest != base.digest)
        #expect(Self.fingerprint(runtimeEnv: ["pip": .array([.string("trl==0.20")])]).digest != base.digest)
    }

    @Test("Differences name each changed ingredient with old and new values")
    func differences() {
        let before = Self.fingerprint()
        let after = Self.fingerprint(
            code: "sha256:fedcba9876543210", params: ["lr": .double(0.0003), "epochs": .int(2)],
            inputs: ["dataset": "92eb5ffee6ae2fec3ad71c777531578f.dir"])
        #expect(
            after.differences(from: before) == [
                "code: sha256:0123456789ab... -> sha256:fedcba987654...",
                "param epochs: added (2)",
                "param lr: 0.0002 -> 0.0003",
                "param seed: removed (was 7)",
                "input dataset: md5 0cc175b9c0f1... -> md5 92eb5ffee6ae....dir",
            ])
        #expect(before.differences(from: before).isEmpty)
    }

    @Test("cache defaults on for ray stages only, and uses limits the params a job sees")
    func cacheSettings() throws {
        let spec = try PipelineSpecParser.parse(
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: cached}
            params:
              lr: {type: number, default: 0.1}
              seed: {type: integer, default: 1}
            stages:
              - {name: train, uses: [lr], params: {steps: 3}, ray: {entrypoint: python train.py}}
              - {name: again, needs: [train], cache: false, ray: {entrypoint: python train.py}}
              - {name: check, kind: noop, needs: [again]}
            """)
        let train = try #require(spec.stage(named: "train"))
        #expect(train.cache)
        #expect(spec.stage(named: "again")?.cache == false)
        #expect(spec.stage(named: "check")?.cache == false)
        #expect(train.jobParams(run: ["lr": .double(0.1), "seed": .int(1)]) == ["lr": .double(0.1), "steps": .int(3)])
        #expect(spec.stage(named: "again")?.jobParams(run: ["seed": .int(1)]) == ["seed": .int(1)])
    }

    @Test("cache on a kind with side effects and uses of an unknown param are errors naming the field")
    func cacheErrors() {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: broken}
            params:
              lr: {type: number, default: 0.1}
            defaults: {cache: true}
            stages:
              - {name: train, uses: [lr, epochs], ray: {entrypoint: python train.py}}
              - {name: gate, kind: gate, needs: [train], cache: true}
            """
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("stages[0] (train).uses: 'epochs' is not a declared param"), "\(text)")
        #expect(text.contains("stages[1] (gate).cache: only ray stages can be cached, not a gate stage"), "\(text)")
    }
}
