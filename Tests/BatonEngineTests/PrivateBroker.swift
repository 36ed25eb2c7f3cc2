import BatonTestSupport
import Foundation
import Glibc

/// A Tansu broker of a test's own, in memory, so the test can wipe it (stop it and start it
/// again on the same port with no topics, offsets or groups) without touching other tests.
final class PrivateBroker: @unchecked Sendable {  // the process handle is used by the owning test only
    let port = EngineFixture.freePort()
    private var process: Process?
    private let logFile: URL

    var address: String { "127.0.0.1:\(port)" }

    init() throws {
        let logs = TestStack.repositoryRoot.appending(path: ".stack/test-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        logFile = logs.appending(path: "tansu-\(port).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
    }

    /// Starts the broker and waits until it accepts connections.
    func start() async throws {
        let process = Process()
        process.executableURL = URL(filePath: try TestStack.variable("BATON_TANSU_BIN"))
        let url = "tcp://127.0.0.1:\(port)"
        process.arguments = [
            "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
        ]
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        LeftoverProcesses.register(process.processIdentifier)
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if Self.accepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrokerDidNotStart(port: port)
    }

    /// `kill -9` of the broker: everything it stored is gone.
    func kill() async {
        guard let process else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        LeftoverProcesses.unregister(process.processIdentifier)
        self.process = nil
    }

    /// Total data loss: kill, then start an empty broker on the same port.
    func wipe() async throws {
        await kill()
        try await start()
    }

    private static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    struct BrokerDidNotStart: Error, CustomStringConvertible {
        var port: Int
        var description: String { "the private Tansu broker did not listen on 127.0.0.1:\(port) within 30 s" }
    }
}
