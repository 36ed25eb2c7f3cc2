import BatonCore
import Testing

@Suite("register stage validation")
struct RegisterSpecTests {
    static func spec(register: String, kind: String = "register") -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: reg}
        stages:
          - {name: train, kind: noop, outputs: [model, report]}
          - {name: other, kind: noop, outputs: [model]}
          - name: register
            kind: \(kind)
            needs: [train]
        \(register)
        """
    }

    func issues(_ register: String, kind: String = "register") -> [String] {
        do {
            _ = try PipelineSpecParser.parse(Self.spec(register: register, kind: kind))
            return []
        } catch let error as SpecError {
            return error.issues.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test("A valid mapping reads model, artifact and alias; alias defaults to candidate")
    func valid() throws {
        let spec = try PipelineSpecParser.parse(
            Self.spec(register: "    register: {model: Korean-LLM.v2, artifact: stages.train.outputs.model}"))
        let register = try #require(spec.stage(named: "register")?.register)
        #expect(register == RegisterSpec(model: "Korean-LLM.v2", stage: "train", output: "model", alias: "candidate"))
        let champion = try PipelineSpecParser.parse(
            Self.spec(register: "    register: {model: m, artifact: stages.train.outputs.report, alias: champion}"))
        #expect(champion.stage(named: "register")?.register?.alias == "champion")
        #expect(champion.stage(named: "train")?.register == nil)
    }

    @Test("Every problem names the stage and the field")
    func problems() {
        #expect(
            issues("") == ["line 7: stage register.register: is required for kind 'register': {model, artifact, alias}"]
        )
        #expect(
            issues("    register: {model: 'bad name', artifact: stages.train.outputs.model}").first?.contains(
                "stage register.register.model: must be a model name") == true)
        #expect(
            issues("    register: {model: m, artifact: stages.other.outputs.model}") == [
                "line 10: stage register.register.artifact: 'other' is not an upstream stage (add it to needs)"
            ])
        #expect(
            issues("    register: {model: m, artifact: stages.train.outputs.weights}") == [
                "line 10: stage register.register.artifact: stage 'train' declares no output 'weights'"
            ])
        #expect(
            issues("    register: {model: m, artifact: train.model}") == [
                "line 10: stage register.register.artifact: must be stages.<stage>.outputs.<output>"
            ])
        #expect(
            issues("    register: {model: m, artifact: stages.train.outputs.model, alias: Champion}").first?.contains(
                "stage register.register.alias: must be lower-case") == true)
        #expect(
            issues("    register: {model: m, artifact: stages.train.outputs.model, version: 3}") == [
                "line 10: stage register.register.version: unknown field (allowed: alias, artifact, model)"
            ])
        #expect(
            issues("    register: {model: m, artifact: stages.train.outputs.model}", kind: "noop") == [
                "line 10: stage register.register: is only for kind 'register', not noop"
            ])
    }
}
