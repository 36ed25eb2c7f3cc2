import BatonCore
import BatonTestSupport
import Foundation
import Synchronization
import Testing

/// `baton submit --wait` as a user at a terminal sees it: a line per stage state, as it happens.
@Suite("Submit progress", .timeLimit(.minutes(3)))
struct SubmitProgressTests {
    @Test(
        "submit --wait prints each stage's progress on stderr while the run goes; stdout keeps the id and the result",
        arguments: [false, true])
    func progressLines(throughAPI: Bool) async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("progress-\(throughAPI ? "api" : "direct")")
        let process = Process()
        process.executableURL = TestStack.batonBinary
        process.arguments = ["submit", "examples/korean-llm-noop.yaml", "--param", "profile=tiny", "--wait"]
        var environment = ProcessInfo.processInfo.environment.merging(fixture.environment) { $1 }
        if throughAPI {
            // A laptop with a token only: no database, no broker.
            let token = try await APITests.makeToken(fixture, name: "laptop", scopes: "runs:submit,runs:read")
            try await APITests.waitForAPI(fixture)
            environment["BATON_API_URL"] = "http://127.0.0.1:\(fixture.apiPort)"
            environment["BATON_API_TOKEN"] = token
            environment["BATON_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
            environment["BATON_KAFKA_BROKERS"] = "127.0.0.1:1"
        }
        process.environment = environment
        let output = Pipe()
        let progress = Pipe()
        process.standardOutput = output
        process.standardError = progress
        try process.run()
        // Read the progress lines as they come, noting whether the command was still running.
        var lines: [(text: String, whileRunning: Bool)] = []
        var pending: [UInt8] = []
        // `availableData` returns what one read gives; `read(upToCount:)` waits for the count or the end.
        while case let chunk = progress.fileHandleForReading.availableData, !chunk.isEmpty {
            let running = process.isRunning
            pending += chunk
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append((String(decoding: pending[..<newline], as: UTF8.self), running))
                pending.removeSubrange(...newline)
            }
        }
        process.waitUntilExit()
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stdout) \(lines.map(\.text))")

        let texts = lines.map(\.text)
        let stages = ["preprocess", "cpt", "sft", "rlhf", "evaluate", "gate", "register", "rollout"]
        for stage in stages {
            #expect(
                texts.contains { $0.contains("] \(stage): succeeded in ") }, "\(stage) finishing: \(texts)")
        }
        #expect(texts.last?.hasSuffix("] run: succeeded") == true, "\(texts)")
        // Lines in order of the pipeline, each with the time since the wait began.
        let firstSucceeded = try #require(texts.firstIndex { $0.contains("preprocess: succeeded") })
        let lastSucceeded = try #require(texts.firstIndex { $0.contains("rollout: succeeded") })
        #expect(firstSucceeded < lastSucceeded)
        #expect(texts.allSatisfy { $0.hasPrefix("[") && $0.contains("s] ") })
        #expect(lines.first?.whileRunning == true, "progress arrives while the run goes, not at the end")
        // Standard output: the run id first, the result last, nothing else.
        let outputLines = stdout.split(separator: "\n").map(String.init)
        #expect(outputLines.count == 2, "\(outputLines)")
        #expect(UUID(uuidString: outputLines.first ?? "") != nil)
        #expect(outputLines.last == "state: succeeded")
        await serve.stop()
    }

    @Test("A run that ended before the first look (the same idempotency key again) is told after its stages")
    func endedBeforeTheFirstLook() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("progress-ended")
        let key = "progress-ended-\(TestStack.uniqueSuffix())"
        // stdout, then the progress lines (stderr) of `baton submit --wait` with the key.
        func submit() throws -> (status: Int32, stdout: String, progress: [String]) {
            let process = Process()
            process.executableURL = TestStack.batonBinary
            process.arguments = ["submit", "examples/korean-llm-noop.yaml", "--idempotency-key", key, "--wait"]
            process.environment = ProcessInfo.processInfo.environment.merging(fixture.environment) { $1 }
            let output = Pipe()
            let progress = Pipe()
            process.standardOutput = output
            process.standardError = progress
            try process.run()
            let lines = String(decoding: progress.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (process.terminationStatus, stdout, lines.split(separator: "\n").map(String.init))
        }
        let first = try submit()
        #expect(first.status == 0, "\(first.stdout) \(first.progress)")
        let again = try submit()
        #expect(again.status == 0, "\(again.stdout) \(again.progress)")
        #expect(again.stdout.split(separator: "\n").first == first.stdout.split(separator: "\n").first, "one run")
        // The run's name first, each stage's end, the run's state last: never the end before the stages.
        let runID = String(again.stdout.prefix(8))
        #expect(again.progress.first?.hasSuffix("] run \(runID) korean-llm-noop") == true, "\(again.progress)")
        #expect(again.progress.filter { $0.contains(": succeeded in ") }.count == 8, "\(again.progress)")
        #expect(again.progress.last?.hasSuffix("] run: succeeded") == true, "\(again.progress)")
        #expect(again.progress.count == 10, "\(again.progress)")
        await serve.stop()
    }

    @Test("On a terminal a spinner line shows the running stages, cleared before each progress line and at the end")
    func spinner() async throws {
        let fixture = try await EngineFixture()
        let serve = try fixture.serve("progress-tty")
        // `script` gives the command a pseudo-terminal and keeps what it printed.
        let typescript = FileManager.default.temporaryDirectory.appending(path: "tty-\(TestStack.uniqueSuffix())")
        // A stage that lasts: the engine runs the reference noop pipeline's eight stages within
        // one of the command's 200 ms looks, which leaves no running stage to show.
        let spec = try fixture.specFile(
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: progress-tty}
            stages:
              - {name: train, kind: noop, noop: {sleep: 1500ms}}
              - {name: rollout, kind: noop, needs: [train]}
            """)
        let command = [TestStack.batonBinary.path, "submit", spec, "--wait"]
        let process = Process()
        process.executableURL = URL(filePath: "/usr/bin/script")
        process.arguments = ["-qefc", command.joined(separator: " "), typescript.path]
        process.environment = ProcessInfo.processInfo.environment.merging(fixture.environment) { $1 }
        process.currentDirectoryURL = TestStack.repositoryRoot
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let screen = try String(contentsOf: typescript, encoding: .utf8)
        #expect(screen.contains("stages done · running: "), "a status line names the running stages")
        #expect(
            screen.contains("\r\u{1B}[2K[") && screen.contains("] rollout: succeeded in "), "progress lines clear it")
        #expect(screen.contains("] run: succeeded"))
        await serve.stop()
    }
}
