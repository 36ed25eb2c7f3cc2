import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// A small HTTP server for operators: Prometheus metrics and health probes. It changes nothing.
///
/// - `GET /metrics`: every swift-metrics metric of the process, and its CPU time and memory
///   (``ProcessMetrics``), Prometheus text format.
/// - `GET /healthz`: 200 while the process runs (liveness).
/// - `GET /readyz`: 200 when `isReady` says the dependencies answer, else 503 (readiness).
public struct ObservabilityServer: Service {
    private let application: Application<RouterResponder<BasicRequestContext>>

    /// - Parameters:
    ///   - host: the address to bind, e.g. `127.0.0.1` or `0.0.0.0`.
    ///   - isReady: checks the process's dependencies (the database) within its own timeout.
    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, isReady: @escaping @Sendable () async -> Bool,
        logger: Logger
    ) {
        let router = Router()
        let process = ProcessMetrics(registry: registry)
        router.get("metrics") { _, _ -> Response in
            process.update()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let ready = await isReady()
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "not ready\n")))
        }
        application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "baton"),
            logger: logger)
    }

    /// Serves until the enclosing service group shuts down gracefully. (`runService()` would
    /// install its own signal handlers and end on SIGTERM ahead of the group, which the group
    /// reads as a failure and answers by cancelling every other role mid-write.)
    public func run() async throws {
        try await application.run()
    }
}
