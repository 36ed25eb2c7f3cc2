import BatonCore
import Foundation
import Testing

@Suite("Run planner")
struct RunPlannerTests {
    static let yaml = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: diamond}
        params: {extra: {type: boolean, default: false}}
        defaults: {retries: {limit: 2, backoff: 1s, factor: 3}}
        stages:
          - {name: a, kind: noop}
          - {name: b, kind: noop, needs: [a]}
          - {name: c, kind: noop, needs: [a], when: "params.extra"}
          - {name: d, kind: noop, needs: [b, c]}
        """

    let planner: RunPlanner
    let runID = UUID()

    init() throws {
        planner = RunPlanner(spec: try PipelineSpecParser.parse(Self.yaml), params: ["extra": .bool(false)])
    }

    func outcome(_ stage: String, _ state: AttemptState, attempt: Int = 1) -> StageOutcome {
        StageOutcome(runId: runID, stage: stage, attemptId: UUID(), attempt: attempt, state: state, error: "boom")
    }

    @Test("Start queues the roots")
    func start() {
        #expect(planner.start() == [.queueAttempt(stage: "a", attempt: 1, delay: .zero)])
    }

    @Test("Success unlocks dependents; a false when skips and still unlocks")
    func unlock() {
        let actions = planner.apply(
            outcome("a", .succeeded), states: ["a": .running, "b": .pending, "c": .pending, "d": .pending],
            countedAttempts: 1, lostAttempts: 0)
        #expect(
            actions == [
                .finishStage(stage: "a", state: .succeeded, error: nil),
                .queueAttempt(stage: "b", attempt: 1, delay: .zero),
                .skipStage(stage: "c", reason: "when 'params.extra' is false"),
            ])
        let last = planner.apply(
            outcome("b", .succeeded), states: ["a": .succeeded, "b": .running, "c": .skipped, "d": .pending],
            countedAttempts: 1, lostAttempts: 0)
        #expect(last.last == .queueAttempt(stage: "d", attempt: 1, delay: .zero))
        let done = planner.apply(
            outcome("d", .succeeded), states: ["a": .succeeded, "b": .succeeded, "c": .skipped, "d": .running],
            countedAttempts: 1, lostAttempts: 0)
        #expect(done.last == .finishRun(state: .succeeded, reason: nil))
    }

    @Test("Failures retry with exponential backoff, then fail the run")
    func retries() {
        let states: [String: StageState] = ["a": .running, "b": .pending, "c": .pending, "d": .pending]
        #expect(
            planner.apply(outcome("a", .failed), states: states, countedAttempts: 1, lostAttempts: 0)
                == [.queueAttempt(stage: "a", attempt: 2, delay: .seconds(1))])
        #expect(
            planner.apply(outcome("a", .timedOut, attempt: 2), states: states, countedAttempts: 2, lostAttempts: 0)
                == [.queueAttempt(stage: "a", attempt: 3, delay: .seconds(3))])
        let final = planner.apply(
            outcome("a", .failed, attempt: 3), states: states, countedAttempts: 3, lostAttempts: 0)
        #expect(final.first == .finishStage(stage: "a", state: .failed, error: "boom"))
        if case .finishRun(.failed, let reason) = final.last {
            #expect(reason == "stage a failed after 3 attempt(s): boom")
        } else {
            Issue.record("run should fail")
        }
    }

    @Test("An aborted rollout fails its stage and the run at once, with retries left")
    func abortedRollout() {
        let states: [String: StageState] = ["a": .running, "b": .pending, "c": .pending, "d": .pending]
        var aborted = outcome("a", .failed)
        aborted.errorType = RunPlanner.rolloutAbortedErrorType
        let actions = planner.apply(aborted, states: states, countedAttempts: 1, lostAttempts: 0)
        #expect(actions.first == .finishStage(stage: "a", state: .failed, error: "boom"))
        #expect(!actions.contains { if case .queueAttempt = $0 { true } else { false } })
        if case .finishRun(.failed, let reason) = actions.last {
            #expect(reason == "stage a failed after 1 attempt(s): boom")
        } else {
            Issue.record("run should fail: \(actions)")
        }
    }

    @Test("A lost worker re-queues at once without using a retry")
    func lost() {
        let states: [String: StageState] = ["a": .running, "b": .pending, "c": .pending, "d": .pending]
        #expect(
            planner.apply(outcome("a", .lost, attempt: 3), states: states, countedAttempts: 2, lostAttempts: 1)
                == [.queueAttempt(stage: "a", attempt: 4, delay: .zero)])
    }

    @Test("An outcome for a stage that is not running changes nothing (redelivery)")
    func staleOutcome() {
        let states: [String: StageState] = ["a": .succeeded, "b": .running, "c": .skipped, "d": .pending]
        #expect(planner.apply(outcome("a", .succeeded), states: states, countedAttempts: 1, lostAttempts: 0).isEmpty)
    }

    @Test("Backoff grows by the factor and stops at the cap")
    func backoff() {
        let policy = RetryPolicy(limit: 5, initialBackoff: .seconds(10), factor: 2, maxBackoff: .seconds(60))
        #expect((1...5).map { policy.backoff(afterAttempt: $0) } == [10, 20, 40, 60, 60].map { .seconds($0) })
    }
}
