import BatonCore
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Spans exported by OTLP/HTTP, set up from the OpenTelemetry environment variables.
///
/// Export is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
/// set (and `OTEL_SDK_DISABLED` is not `true`); otherwise no tracer is bootstrapped and every
/// span Baton starts is a no-op. The usual variables apply: `OTEL_EXPORTER_OTLP_PROTOCOL`
/// (`http/protobuf`, the default, or `http/json`), `OTEL_EXPORTER_OTLP_HEADERS`,
/// `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_SERVICE_NAME` (default `baton`),
/// `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY` and the other
/// batch processor settings. Metrics stay on Prometheus and logs on stderr.
public enum TraceExport {
    /// Bootstraps the global tracer when export is asked for.
    ///
    /// - Returns: the exporter's service, to run in the process's service group; `nil` when
    ///   export is off.
    public static func bootstrap(environment: [String: String], logger: Logger) throws -> (any Service)? {
        let endpoint = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        guard let endpoint, !endpoint.isEmpty, environment["OTEL_SDK_DISABLED"]?.lowercased() != "true" else {
            return nil
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "baton"
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.diagnosticLogger = .custom(logger)
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracer)
        logger.info("exporting spans by OTLP", metadata: [LogKeys.uri: "\(endpoint)"])
        return service
    }
}
