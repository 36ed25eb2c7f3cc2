import BatonCore
import Testing

/// `triggers:` in a spec: what a trigger answers, the params it asks for, and the spec errors.
@Suite("Alert triggers")
struct AlertTriggerTests {
    static let spec = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: retrain}
        params:
          reason: {type: string, default: manual}
          train_scale: {type: number, default: 1}
        triggers:
          - name: on-accuracy
            alert: BatonModelAccuracyLow
            labels: {model: korean-llm}
            params: {train_scale: 2}
            paramsFromLabels: {reason: alertname}
        stages:
          - {name: train, kind: noop}
        """

    @Test("A trigger answers its alertname with its labels, and asks for its params and the labels' values")
    func matchesAndParams() throws {
        let trigger = try #require(try PipelineSpecParser.parse(Self.spec).triggers.first)
        #expect(trigger.name == "on-accuracy")
        let alert = ["alertname": "BatonModelAccuracyLow", "model": "korean-llm", "severity": "warning"]
        #expect(trigger.matches(alert))
        #expect(!trigger.matches(alert.merging(["model": "other"]) { $1 }))
        #expect(!trigger.matches(alert.merging(["alertname": "BatonModelDrift"]) { $1 }))
        #expect(!trigger.matches(["alertname": "BatonModelAccuracyLow"]), "the model label is required")
        #expect(trigger.params(for: alert) == ["train_scale": .int(2), "reason": .string("BatonModelAccuracyLow")])
    }

    @Test(
        "Undeclared params, non-string params from labels, bad values and unknown fields are refused",
        arguments: [
            ("params: {epochs: 3}", "triggers[0].params.epochs: is not a param of the pipeline"),
            ("paramsFromLabels: {train_scale: model}", "must be a string param (labels are text)"),
            ("params: {train_scale: fast}", "param 'train_scale' must be of type number"),
            ("labels: [model]", "triggers[0].labels: must be a mapping"),
            ("colour: red", "triggers[0].colour: unknown field"),
        ])
    func refused(field: String, problem: String) {
        let yaml = """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: retrain}
            params:
              train_scale: {type: number, default: 1}
            triggers:
              - name: t
                alert: A
                \(field)
            stages:
              - {name: train, kind: noop}
            """
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(yaml) }
        #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
    }

    @Test("A trigger without an alert, two triggers of one name, and more than twenty triggers are refused")
    func duplicatesAndLimit() {
        func spec(_ triggers: [String]) -> String {
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: retrain}
            triggers:
            \(triggers.map { "  - \($0)" }.joined(separator: "\n"))
            stages:
              - {name: train, kind: noop}
            """
        }
        let alertless = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(spec(["{name: t}"])) }
        #expect(alertless?.description.contains("triggers[0].alert: is required") == true)
        let twice = #expect(throws: SpecError.self) {
            try PipelineSpecParser.parse(spec(["{name: t, alert: A}", "{name: t, alert: B}"]))
        }
        #expect(twice?.description.contains("'t' is used by an earlier trigger") == true)
        let many = #expect(throws: SpecError.self) {
            try PipelineSpecParser.parse(spec((0...20).map { "{name: t\($0), alert: A}" }))
        }
        #expect(many?.description.contains("has 21 triggers; the limit is 20") == true)
    }
}
