import BatonTestSupport
import Foundation
import Glibc
import Testing

/// The `baton` executable run as a separate process, as a user or an operator runs it.
final class BatonProcess: @unchecked Sendable {  // Process is not Sendable; access is confined to the test.
    /// `BATON_BIN`, or the debug build in this clone.
    static var binary: URL { TestStack.batonBinary }

    let process = Process()
    let logFile: URL

    /// Starts `baton <arguments>` with extra environment; output goes to a log file.
    init(_ arguments: [String], environment: [String: String], logName: String) throws {
        let logs = TestStack.repositoryRoot.appending(path: ".stack/test-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        logFile = logs.appending(path: "\(logName).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = TestStack.repositoryRoot
        let handle = try FileHandle(forWritingTo: logFile)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        LeftoverProcesses.register(process.processIdentifier)
    }

    var pid: Int32 { process.processIdentifier }

    /// `kill -9`: no shutdown, no offset commits, leases left behind.
    func kill9() async {
        kill(process.processIdentifier, SIGKILL)
        _ = await waitForExit(within: .seconds(10))
    }

    /// SIGTERM, then wait for the graceful shutdown. A process still running after `limit`
    /// (serve's 25 s graceful shutdown, 10 s of cancellation, and some slack) fails the test
    /// and is killed, so a shutdown bug is reported instead of hanging the suite; so does an exit
    /// with an error status or a crash.
    func stop(within limit: Duration = .seconds(45)) async {
        process.terminate()
        if await !waitForExit(within: limit) {
            let command = process.arguments?.joined(separator: " ") ?? ""
            // The service group's steps name the role it waited on.
            let steps = log.split(separator: "\n").filter { $0.contains("baton.lifecycle") }.suffix(8)
                .joined(separator: "\n")
            Issue.record(
                "baton \(command) did not exit within \(limit) of SIGTERM; its last lifecycle steps:\n\(steps)")
            kill(process.processIdentifier, SIGKILL)
            _ = await waitForExit(within: .seconds(10))
        } else if process.terminationReason == .exit, process.terminationStatus != 0 {
            Issue.record(
                "baton exited with status \(process.terminationStatus) after SIGTERM: \(log.suffix(600))")
        } else if process.terminationReason == .uncaughtSignal, process.terminationStatus != SIGTERM {
            // A crash while shutting down (a role past its cancellation limit, a fault at exit).
            Issue.record(
                "baton crashed (signal \(process.terminationStatus)) after SIGTERM: \(log.suffix(1200))")
        }
    }

    /// Whether the process ended within `limit`. Polls on, even when the test is cancelled,
    /// up to `limit`: the process must not outlive the test unnoticed.
    func waitForExit(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { return false }
        LeftoverProcesses.unregister(process.processIdentifier)
        return true
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Runs a one-shot command to its end.
    ///
    /// - Returns: the exit status and standard output.
    static func run(_ arguments: [String], environment: [String: String], timeout: Duration = .seconds(120))
        async throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = TestStack.repositoryRoot
        let output = FileManager.default.temporaryDirectory.appending(path: "baton-out-\(TestStack.uniqueSuffix())")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = FileHandle.standardError
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            process.terminate()
            throw CommandTimedOut(arguments: arguments)
        }
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }

    struct CommandTimedOut: Error, CustomStringConvertible {
        var arguments: [String]
        var description: String { "baton \(arguments.joined(separator: " ")) did not finish in time" }
    }
}

/// Kills `baton serve` processes a failed test left running, when the test process exits.
enum LeftoverProcesses {
    nonisolated(unsafe) private static var pids: Set<Int32> = []
    private static let lock = NSLock()
    private static let installed: Void = { atexit { LeftoverProcesses.killAll() } }()

    static func register(_ pid: Int32) {
        _ = installed
        lock.withLock { _ = pids.insert(pid) }
    }

    static func unregister(_ pid: Int32) {
        lock.withLock { _ = pids.remove(pid) }
    }

    static func killAll() {
        lock.withLock { for pid in pids { kill(pid, SIGKILL) } }
    }
}
