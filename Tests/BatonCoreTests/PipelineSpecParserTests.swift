import BatonCore
import Foundation
import Testing

@Suite("Pipeline spec parsing and validation")
struct PipelineSpecParserTests {
    static let examples = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../examples")

    static func example(_ name: String) throws -> String {
        try String(contentsOf: examples.appending(path: name), encoding: .utf8)
    }

    @Test("The reference pipelines parse with all eight stages in order")
    func referencePipelines() throws {
        for file in ["korean-llm.yaml", "korean-llm-noop.yaml"] {
            let spec = try PipelineSpecParser.parse(try Self.example(file))
            #expect(
                spec.graph.order == ["preprocess", "cpt", "sft", "rlhf", "evaluate", "gate", "register", "rollout"])
            #expect(spec.graph.roots == ["preprocess"])
        }
        let spec = try PipelineSpecParser.parse(try Self.example("korean-llm.yaml"))
        let cpt = try #require(spec.stage(named: "cpt"))
        #expect(cpt.kind == .ray)
        #expect(cpt.ray?.entrypoint == "python -m baton_jobs.cpt")
        #expect(cpt.ray?.resources.gpus == 1)
        #expect(cpt.ray?.resources.memory == 64 << 30)
        #expect(cpt.retry.limit == 2)
        #expect(cpt.retry.initialBackoff == .seconds(30))
        #expect(spec.stage(named: "preprocess")?.timeout == .seconds(7200))
        #expect(spec.stage(named: "evaluate")?.retry.limit == 1)
        #expect(spec.stage(named: "gate")?.kind == .gate)
        #expect(spec.params["lora_rank"]?.defaultValue == .int(64))
    }

    @Test("A cycle is rejected and named")
    func cycle() {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: loop}
            stages:
              - {name: a, kind: noop, needs: [c]}
              - {name: b, kind: noop, needs: [a]}
              - {name: c, kind: noop, needs: [b]}
            """
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(yaml) }
        #expect(error?.description.contains("cycle: a -> c -> b -> a") == true)
    }

    @Test("Problems name the line, the stage and the field")
    func problemsNameTheirPlace() {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: broken}
            params:
              epochs: {type: integer, default: many}
            stages:
              - name: first
                kind: noop
                timeout: forever
              - name: second
                kind: noop
                needs: [frist]
                retires: 3
            """
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("line 5: params.epochs.default: param 'epochs' must be of type integer"))
        #expect(text.contains("line 9: stages[0] (first).timeout: 'forever' is not a duration"))
        #expect(text.contains("stages[1] (second).retires: unknown field"))
        #expect(text.contains("stage second.needs: unknown stage 'frist'"))
    }

    @Test("Malformed YAML, wrong apiVersion, oversize specs and bad names are rejected")
    func malformed() {
        #expect(throws: SpecError.self) { try PipelineSpecParser.parse("stages: [a, b") }
        #expect(throws: SpecError.self) { try PipelineSpecParser.parse("") }
        let wrongVersion = "apiVersion: v2\nkind: Pipeline\nmetadata: {name: x}\nstages: [{name: a, kind: noop}]"
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(wrongVersion) }
        #expect(error?.description.contains("apiVersion: must be 'baton/v1'") == true)
        let huge = String(repeating: "#", count: PipelineSpecParser.maxSpecBytes + 1)
        #expect(throws: SpecError.self) { try PipelineSpecParser.parse(huge) }
        let badName =
            "apiVersion: baton/v1\nkind: Pipeline\nmetadata: {name: Bad Name}\nstages: [{name: a, kind: noop}]"
        #expect(throws: SpecError.self) { try PipelineSpecParser.parse(badName) }
    }

    @Test("A YAML alias reads as the value of its anchor")
    func aliases() throws {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: aliased}
            stages:
              - {name: a, kind: noop, params: {lr: &rate 0.1}}
              - {name: b, kind: noop, params: {lr: *rate}}
            """
        let spec = try PipelineSpecParser.parse(yaml)
        #expect(spec.stage(named: "b")?.params["lr"] == .double(0.1))
    }

    @Test("when is parsed and checked against declared params, with the column of the error")
    func whenChecked() {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: w}
            params: {fast: {type: boolean, default: false}}
            stages:
              - {name: a, kind: noop, when: "params.fast && params.slow"}
              - {name: b, kind: noop, when: "params.fast &&"}
            """
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("column 16: unknown reference 'params.slow'"))
        #expect(text.contains("column 15: unexpected end of expression"))
    }

    @Test("Inputs must reference declared outputs of upstream stages")
    func inputsChecked() {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: i}
            stages:
              - {name: a, kind: noop, outputs: [data]}
              - {name: b, kind: noop, inputs: {x: stages.a.outputs.data}}
              - {name: c, kind: noop, needs: [a], inputs: {x: stages.a.outputs.model}}
            """
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(yaml) }
        let text = error?.description ?? ""
        #expect(text.contains("stage b.inputs.x: 'a' is not an upstream stage"))
        #expect(text.contains("stage c.inputs.x: stage 'a' declares no output 'model'"))
    }
}
