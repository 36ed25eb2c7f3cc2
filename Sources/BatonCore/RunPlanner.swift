/// Decides what a run does next, given its spec, its stages' states and one outcome.
///
/// A pure value: the coordinator loads the run, asks the planner, and applies the returned
/// actions in one database transaction. Tests drive it directly.
public struct RunPlanner: Sendable {
    /// What to do; the store applies these in order.
    public enum Action: Sendable, Hashable {
        /// Queue attempt number `attempt` of a stage, not before `delay` has passed.
        case queueAttempt(stage: String, attempt: Int, delay: Duration)
        /// Mark a stage skipped because its `when` was false.
        case skipStage(stage: String, reason: String)
        /// Set a finished stage's state.
        case finishStage(stage: String, state: StageState, error: String?)
        /// Cancel stages that have not ended.
        case cancelUnfinishedStages(reason: String)
        /// End the run.
        case finishRun(state: RunState, reason: String?)
    }

    /// Losing a worker does not use up retries, but this many losses in a row fail the stage.
    public static let maxLostAttempts = 5

    /// The error type of an attempt that waited in a pool no live worker serves. It fails the
    /// stage at once: retrying cannot help until someone starts a worker for the pool.
    public static let noWorkerErrorType = "no_worker"

    /// The error type of a rollout its analysis aborted (the candidate's alias rolled back). It
    /// fails the stage at once: the same candidate would be judged by the same measurements.
    public static let rolloutAbortedErrorType = "rollout_aborted"

    /// Error types that end a stage without a retry, whatever its retry policy says.
    public static let finalErrorTypes: Set<String> = [noWorkerErrorType, rolloutAbortedErrorType]

    /// The run's spec.
    public let spec: PipelineSpec
    /// The run's resolved params (for `when` conditions).
    public let params: [String: JSONValue]

    /// A planner for one run.
    public init(spec: PipelineSpec, params: [String: JSONValue]) {
        self.spec = spec
        self.params = params
    }

    /// The actions that start a new run: queue the roots (or skip them per `when`).
    public func start() -> [Action] {
        var states = Dictionary(uniqueKeysWithValues: spec.stages.map { ($0.name, StageState.pending) })
        let actions = unlock(candidates: spec.graph.roots, states: &states)
        return actions + finishIfDone(states, after: actions)
    }

    /// The actions after an attempt ended.
    ///
    /// - Parameters:
    ///   - outcome: how the attempt ended.
    ///   - states: every stage's current state (before the outcome is applied).
    ///   - lostAttempts: how many attempts of this stage were lost so far, including this one.
    ///   - countedAttempts: attempts of this stage that count against its retry limit, including this one.
    public func apply(
        _ outcome: StageOutcome, states: [String: StageState], countedAttempts: Int, lostAttempts: Int
    ) -> [Action] {
        // An attempt can end while still queued only when no worker serves its pool.
        let isUnserved = outcome.errorType == Self.noWorkerErrorType
        guard let stage = spec.stage(named: outcome.stage),
            states[stage.name] == .running || (isUnserved && states[stage.name] == .ready)
        else { return [] }
        var states = states
        switch outcome.state {
        case .succeeded:
            states[stage.name] = .succeeded
            var actions: [Action] = [.finishStage(stage: stage.name, state: .succeeded, error: nil)]
            actions += unlock(candidates: spec.graph.dependents[stage.name] ?? [], states: &states)
            return actions + finishIfDone(states, after: actions)
        case .failed, .timedOut, .lost:
            let isLoss = outcome.state == .lost
            let mayRetry =
                !Self.finalErrorTypes.contains(outcome.errorType ?? "")
                && (isLoss ? lostAttempts < Self.maxLostAttempts : countedAttempts < stage.retry.maxAttempts)
            if mayRetry {
                let delay = isLoss ? .zero : stage.retry.backoff(afterAttempt: countedAttempts)
                return [.queueAttempt(stage: stage.name, attempt: outcome.attempt + 1, delay: delay)]
            }
            let reason =
                "stage \(stage.name) failed after \(outcome.attempt) attempt(s): \(outcome.error ?? "no error text")"
            return [
                .finishStage(stage: stage.name, state: .failed, error: outcome.error),
                .cancelUnfinishedStages(reason: "run failed: \(reason)"),
                .finishRun(state: .failed, reason: reason),
            ]
        case .rejected:
            return reject(stage, error: outcome.error, states: states)
        case .cancelled, .queued, .running:
            return []
        }
    }

    /// A gate said no: the gate stage is `rejected`, the stages after it are `skipped` (they
    /// never ran: nothing is registered or rolled out), any other unfinished stage is cancelled as
    /// for a failure, and the run ends `rejected_by_gate`. A rejection is never retried.
    private func reject(_ stage: StageSpec, error: String?, states: [String: StageState]) -> [Action] {
        let reason = "stage \(stage.name) rejected the run: \(error ?? "its gate condition is false")"
        let after = spec.graph.downstream(of: stage.name)
        var actions: [Action] = [.finishStage(stage: stage.name, state: .rejected, error: error)]
        for name in spec.graph.order where after.contains(name) && states[name] == .pending {
            actions.append(.skipStage(stage: name, reason: "not run: \(reason)"))
        }
        return actions + [
            .cancelUnfinishedStages(reason: "run rejected: \(reason)"),
            .finishRun(state: .rejectedByGate, reason: reason),
        ]
    }

    /// The actions that cancel a run.
    public static func cancel(reason: String) -> [Action] {
        [.cancelUnfinishedStages(reason: reason), .finishRun(state: .cancelled, reason: reason)]
    }

    // MARK: - Unlocking

    private func unlock(candidates: [String], states: inout [String: StageState]) -> [Action] {
        var actions: [Action] = []
        var queue = candidates
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard states[name] == .pending, let stage = spec.stage(named: name),
                stage.needs.allSatisfy({ states[$0]?.satisfiesDependents == true })
            else { continue }
            switch evaluateWhen(stage) {
            case .fail(let reason):
                states[name] = .failed
                actions += [
                    .finishStage(stage: name, state: .failed, error: reason),
                    .cancelUnfinishedStages(reason: "run failed: \(reason)"),
                    .finishRun(state: .failed, reason: reason),
                ]
                return actions
            case .run:
                states[name] = .ready
                actions.append(.queueAttempt(stage: name, attempt: 1, delay: .zero))
            case .skip(let reason):
                states[name] = .skipped
                actions.append(.skipStage(stage: name, reason: reason))
                queue += spec.graph.dependents[name] ?? []
            }
        }
        return actions
    }

    private enum WhenDecision {
        case run
        case skip(String)
        case fail(String)
    }

    private func evaluateWhen(_ stage: StageSpec) -> WhenDecision {
        guard let condition = stage.when else { return .run }
        do {
            let result = try condition.evaluate { path in
                path.count == 2 && path[0] == "params" ? params[path[1]] : nil
            }
            return result ? .run : .skip("when '\(stage.whenSource ?? "")' is false")
        } catch {
            return .fail("stage \(stage.name): when '\(stage.whenSource ?? "")' could not be evaluated: \(error)")
        }
    }

    private func finishIfDone(_ states: [String: StageState], after actions: [Action]) -> [Action] {
        guard states.values.allSatisfy(\.isTerminal),
            !actions.contains(where: { if case .finishRun = $0 { true } else { false } })
        else { return [] }
        if states.values.allSatisfy(\.satisfiesDependents) { return [.finishRun(state: .succeeded, reason: nil)] }
        return []
    }
}
