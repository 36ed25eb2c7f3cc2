import AsyncHTTPClient
import BatonTestSupport
import Foundation
import Logging
import NIOCore
import Synchronization
import WSClient

/// Debian's headless Chromium, driven over the DevTools protocol (a WebSocket to one page), as
/// the console's tests use it: navigate, evaluate JavaScript, take screenshots.
final class Browser: @unchecked Sendable {  // the process handle is used by the owning test only
    private let process = Process()
    private let profile: URL
    let port: Int

    /// Starts Chromium (`BATON_CHROMIUM`, from `scripts/stack env`) with a fresh profile.
    init() async throws {
        let binary = ProcessInfo.processInfo.environment["BATON_CHROMIUM"] ?? "/usr/bin/chromium"
        port = EngineFixture.freePort()
        profile = FileManager.default.temporaryDirectory.appending(path: "chromium-\(TestStack.uniqueSuffix())")
        process.executableURL = URL(filePath: binary)
        process.arguments = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=\(port)", "--remote-allow-origins=*",
            "--user-data-dir=\(profile.path)", "--window-size=1400,1000", "about:blank",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Closes Chromium and removes its profile.
    func close() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: profile)
    }

    /// Runs `body` with a DevTools session on the browser's page.
    func withPage<Result: Sendable>(_ body: @escaping @Sendable (Page) async throws -> Result) async throws -> Result {
        let url = try await pageSocketURL()
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 64 << 20
        let result = Mutex<Result?>(nil)
        try await WebSocketClient.connect(url: url, configuration: configuration, logger: TestStack.logger) {
            inbound, outbound, _ in
            let page = Page(inbound: inbound.messages(maxSize: 64 << 20).makeAsyncIterator(), outbound: outbound)
            let value = try await body(page)
            result.withLock { $0 = value }
        }
        guard let value = result.withLock({ $0 }) else { throw BrowserError("the DevTools session ended early") }
        return value
    }

    private func pageSocketURL() async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let response = try? await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/json/list"), timeout: .seconds(5)),
                let body = try? await response.body.collect(upTo: 1 << 20),
                let targets = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]],
                let page = targets.first(where: { $0["type"] as? String == "page" }),
                let url = page["webSocketDebuggerUrl"] as? String
            {
                return url
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BrowserError("Chromium did not open its DevTools port \(port)")
    }

    struct BrowserError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// One page's DevTools session: commands are answered in order.
    final class Page: @unchecked Sendable {  // used by one task, inside the WebSocket handler
        private var inbound: WebSocketInboundMessageStream.AsyncIterator
        private let outbound: WebSocketOutboundWriter
        private var nextID = 0

        init(inbound: WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter) {
            self.inbound = inbound
            self.outbound = outbound
        }

        /// Sends a DevTools command and returns its result, skipping the events in between.
        @discardableResult
        func send(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
            nextID += 1
            let id = nextID
            let message = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params])
            try await outbound.write(.text(String(decoding: message, as: UTF8.self)))
            while let frame = try await inbound.next() {
                guard case .text(let text) = frame,
                    let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                    object["id"] as? Int == id
                else { continue }
                if let error = object["error"] { throw BrowserError("\(method): \(error)") }
                return object["result"] as? [String: Any] ?? [:]
            }
            throw BrowserError("the DevTools connection closed during \(method)")
        }

        /// Loads `url` and waits until the document finished loading.
        func open(_ url: String) async throws {
            try await send("Page.navigate", ["url": url])
            try await waitUntil("\(url) loaded", "document.readyState === 'complete'")
        }

        /// The value of a JavaScript expression (JSON-compatible values only).
        func evaluate(_ expression: String) async throws -> Any? {
            let result = try await send(
                "Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
            if let exception = result["exceptionDetails"] { throw BrowserError("\(expression): \(exception)") }
            return (result["result"] as? [String: Any])?["value"]
        }

        /// Polls `condition` (JavaScript) until it is true.
        func waitUntil(_ description: String, _ condition: String, timeout: Duration = .seconds(60)) async throws {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if try await evaluate("Boolean(\(condition))") as? Bool == true { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw BrowserError("timed out waiting for \(description)")
        }

        /// Saves a PNG of the whole page.
        func screenshot(to file: URL) async throws {
            // A busy machine can leave a fresh page without a laid-out viewport ("0 width"); the
            // page is given its size explicitly, as the window's.
            _ = try await send(
                "Emulation.setDeviceMetricsOverride",
                ["width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false])
            let result = try await send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
            guard let base64 = result["data"] as? String, let data = Data(base64Encoded: base64) else {
                throw BrowserError("no screenshot data")
            }
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file)
        }
    }
}
