import BatonCore
import Testing

@Suite("rollout stage validation")
struct RolloutSpecTests {
    static func spec(rollout: String, needs: String = "[register]") -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: roll}
        stages:
          - {name: train, kind: noop, outputs: [model]}
          - name: register
            kind: register
            needs: [train]
            register: {model: m, artifact: stages.train.outputs.model}
          - name: rollout
            kind: rollout
            needs: \(needs)
        \(rollout)
        """
    }

    func issues(_ rollout: String, needs: String = "[register]") -> [String] {
        do {
            _ = try PipelineSpecParser.parse(Self.spec(rollout: rollout, needs: needs))
            return []
        } catch let error as SpecError {
            return error.issues.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test("Steps, the stage's templates and the built-in one are read")
    func valid() throws {
        let spec = try PipelineSpecParser.parse(
            Self.spec(
                rollout: """
                        rollout:
                          target: ray-serve
                          analysisTemplates:
                            errors:
                              interval: 2s
                              count: 4
                              failureLimit: 1
                              metrics:
                                - {name: rate, query: 'up{v="{{candidate.version}}"}', successCondition: result >= 0.95}
                          steps:
                            - setWeight: 20
                            - analysis: {template: errors}
                            - pause: 5m
                            - analysis: {template: success-and-latency}
                            - setWeight: 100
                    """))
        let rollout = try #require(spec.stage(named: "rollout")?.rollout)
        #expect(rollout.target == .rayServe)
        #expect(
            rollout.steps == [
                .setWeight(20), .analysis(template: "errors"), .pause(.seconds(300)),
                .analysis(template: "success-and-latency"), .setWeight(100),
            ])
        let errors = try #require(rollout.templates["errors"])
        #expect(errors.interval == .seconds(2) && errors.count == 4 && errors.failureLimit == 1)
        #expect(errors.metrics.first?.condition == AnalysisCondition(comparison: .greaterOrEqual, threshold: 0.95))
        #expect(
            AnalysisTemplate.render(errors.metrics[0].query, model: "m", candidateVersion: 3, stableVersion: 2)
                == #"up{v="3"}"#)
    }

    @Test("Every problem names the field, with the step's own line")
    func problems() {
        #expect(
            issues(
                """
                    rollout:
                      target: nginx
                      steps:
                        - setWeight: 120
                        - pause: soon
                        - analysis: {template: nope}
                """) == [
                    "line 14: stage rollout.rollout.target: must be one of ray-serve, argo",
                    "line 16: stage rollout.rollout.steps[0]: setWeight must be an integer from 0 to 100",
                    "line 17: stage rollout.rollout.steps[1]: pause must be a duration such as 30s or 5m",
                    "line 18: stage rollout.rollout.steps[2]: analysis template 'nope' is neither in analysisTemplates "
                        + "nor built in (known: success-and-latency)",
                ])
        let template = issues(
            """
                rollout:
                  steps: [{setWeight: 10}]
                  analysisTemplates:
                    t: {count: 2, failureLimit: 2, metrics: [{name: x, query: 'up{a="{{run}}"}', successCondition: 'x > 1'}]}
            """)
        #expect(
            template.contains {
                $0.contains("analysisTemplates.t.failureLimit: must be an integer from 0 to count - 1")
            })
        #expect(template.contains { $0.contains("analysisTemplates.t.metrics[0].query: uses '{{run}}'") })
        #expect(
            template.contains { $0.contains("analysisTemplates.t.metrics[0].successCondition: must be 'result <op>") })
        #expect(
            issues("    rollout: {steps: [{setWeight: 10}]}", needs: "[train]").contains {
                $0.contains("needs exactly one upstream 'register' stage")
            })
    }

    @Test("Conditions compare the measured value; NaN never passes")
    func conditions() throws {
        let condition = try AnalysisCondition.parse("result<=2000").get()
        #expect(condition.holds(for: 1999) && !condition.holds(for: 2001) && !condition.holds(for: .nan))
        #expect(throws: AnalysisCondition.ParseError.self) { try AnalysisCondition.parse("result ~ 1").get() }
    }
}
