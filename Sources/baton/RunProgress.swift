import BatonCore
import BatonStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The live progress of `baton submit --wait` and `runs retry --wait`: one line on standard error
/// per state a stage or the run reaches, with the time since the wait began, the stage's
/// duration once it ended, and its reason (a gate's decision, a failure). Standard output keeps
/// only the result, so scripts (and `--json`) read it as before. On a terminal, a status line
/// below them shows a spinner and the stages running now with how long they have run,
/// rewritten in place on every call; it is not printed when standard error is a file or a pipe.
struct RunProgress {
    private var seen: [String: StageState] = [:]
    /// The run's state as last printed.
    private var runState: RunState?
    private var introduced = false
    private let started = ContinuousClock.now
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var frame = 0
    private static let spinner = Array("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

    /// Prints what changed in `run` since the last call (and, on a terminal, the status line).
    mutating func show(_ run: RunView) {
        show(changesOf: run)
        guard isTerminal else { return }
        if run.state.isTerminal {
            write("\r\u{1B}[2K")
        } else {
            status(run)
        }
    }

    private mutating func status(_ run: RunView) {
        frame = (frame + 1) % Self.spinner.count
        let now = Date()
        let running = run.stages.filter { $0.state == .running }.map { stage in
            stage.name + (stage.startedAt.map { String(format: " %.0f s", now.timeIntervalSince($0)) } ?? "")
        }
        let done = run.stages.filter(\.state.isTerminal).count
        var text = "\(Self.spinner[frame]) \(done)/\(run.stages.count) stages done"
        if !running.isEmpty { text += " · running: " + running.joined(separator: ", ") }
        write("\r\u{1B}[2K" + String(text.prefix(200)))
    }

    private mutating func show(changesOf run: RunView) {
        let first = !introduced
        if first {
            introduced = true
            // A run that ended before the first look (a fast pipeline) is told last, after its stages.
            if run.state.isTerminal {
                line("run \(run.runId.prefix(8)) \(run.pipeline)")
            } else {
                line("run \(run.runId.prefix(8)) \(run.pipeline): \(run.state.rawValue)")
                runState = run.state
            }
        }
        for stage in run.stages where seen[stage.name] != stage.state {
            seen[stage.name] = stage.state
            guard stage.state != .pending || !first else { continue }
            var text = "\(stage.name): \(stage.state.rawValue)"
            if stage.state.isTerminal, let seconds = stage.durationSeconds {
                text += String(format: " in %.1f s", seconds)
            }
            if let reason = stage.reason { text += " (\(reason.prefix(300)))" }
            line(text)
        }
        if runState != run.state {
            line("run: \(run.state.rawValue)")
            runState = run.state
        }
    }

    private func line(_ text: String) {
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        // On a terminal the status line is cleared first; the next call draws it again below.
        write((isTerminal ? "\r\u{1B}[2K" : "") + String(format: "[%6.1fs] ", seconds) + text + "\n")
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
