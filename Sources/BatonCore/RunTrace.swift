import Crypto
import Foundation
import Tracing

/// A run's W3C trace context: the trace id of a run is its id (the UUID's 32 hex digits), so
/// every event Baton emits about the run, every Ray job of it and every log line naming it carry
/// the same trace id without a lookup; each event or job gets a span id of its own, derived from
/// its id.
public enum RunTrace {
    /// The trace id of run `runID`: its 32 lower-case hex digits.
    public static func traceID(of runID: UUID) -> String {
        withUnsafeBytes(of: runID.uuid) { $0.lowercaseHex }
    }

    /// `00-<trace id>-<span id>-01` for run `runID`, the span id derived from `span` (an event's
    /// or an attempt's id).
    public static func traceparent(runID: UUID, span: String) -> String {
        let digest = SHA256.hash(data: Array(span.utf8)).prefix(8).lowercaseHex
        return "00-\(traceID(of: runID))-\(digest)-01"
    }

    /// The run an event subject (`run/<id>[/stage/<name>]`) is about.
    public static func runID(fromSubject subject: String?) -> UUID? {
        guard let subject, subject.hasPrefix("run/") else { return nil }
        return subject.split(separator: "/").dropFirst().first.flatMap { UUID(uuidString: String($0)) }
    }
}

// MARK: - Spans

extension RunTrace {
    /// The context for work on run `runID`: a child of `traceparent` (the triggering event's) when
    /// that is of the run's trace, else of the run's own root (`traceparent(runID:span: "run")`).
    /// With no tracer bootstrapped (no `OTEL_EXPORTER_OTLP_ENDPOINT`) it is the top level, and the
    /// spans started in it cost nothing.
    public static func context(runID: UUID, parent traceparent: String? = nil) -> ServiceContext {
        var context = ServiceContext.topLevel
        let own = traceparent.flatMap { traceID(ofTraceparent: $0) == traceID(of: runID) ? $0 : nil }
        InstrumentationSystem.instrument.extract(
            ["traceparent": own ?? self.traceparent(runID: runID, span: "run")], into: &context,
            using: TraceHeaders())
        return context
    }

    /// The `traceparent` of the current task's span when it belongs to run `runID`'s trace;
    /// `nil` with no tracer bootstrapped or outside the run's work.
    public static func currentTraceparent(runID: UUID) -> String? {
        ServiceContext.current.flatMap { traceparent(of: $0, runID: runID) }
    }

    /// The `traceparent` of `context` (a span's) when it belongs to run `runID`'s trace; `nil`
    /// with no tracer bootstrapped.
    public static func traceparent(of context: ServiceContext, runID: UUID) -> String? {
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &headers, using: TraceHeaders())
        guard let traceparent = headers["traceparent"], traceID(ofTraceparent: traceparent) == traceID(of: runID)
        else { return nil }
        return traceparent
    }

    /// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
    public static func traceID(ofTraceparent traceparent: String) -> String? {
        let parts = traceparent.split(separator: "-")
        guard parts.count == 4, parts[1].utf8.count == 32 else { return nil }
        return parts[1].lowercased()
    }
}

/// Trace headers as a dictionary, for the propagator.
private struct TraceHeaders: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
