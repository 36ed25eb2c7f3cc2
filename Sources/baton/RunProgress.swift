import BatonCore
import BatonStore
import Foundation

/// The live progress of `baton submit --wait` and `runs retry --wait`: one line on standard error
/// per state a stage or the run reaches, with the time since the wait began, the stage's
/// duration once it ended, and its reason (a gate's decision, a failure). Standard output keeps
/// only the result, so scripts (and `--json`) read it as before.
struct RunProgress {
    private var seen: [String: StageState] = [:]
    private var runState: RunState?
    private let started = ContinuousClock.now

    /// Prints what changed in `run` since the last call.
    mutating func show(_ run: RunView) {
        if runState == nil { line("run \(run.runId.prefix(8)) \(run.pipeline): \(run.state.rawValue)") }
        for stage in run.stages where seen[stage.name] != stage.state {
            seen[stage.name] = stage.state
            guard stage.state != .pending || runState != nil else { continue }
            var text = "\(stage.name): \(stage.state.rawValue)"
            if stage.state.isTerminal, let seconds = stage.durationSeconds {
                text += String(format: " in %.1f s", seconds)
            }
            if let reason = stage.reason { text += " (\(reason.prefix(300)))" }
            line(text)
        }
        if runState != nil, runState != run.state { line("run: \(run.state.rawValue)") }
        runState = run.state
    }

    private func line(_ text: String) {
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        FileHandle.standardError.write(Data((String(format: "[%6.1fs] ", seconds) + text + "\n").utf8))
    }
}
