import Crypto
import Foundation

/// A run's W3C trace context: the trace id of a run is its id (the UUID's 32 hex digits), so
/// every event Baton emits about the run, every Ray job of it and every log line naming it carry
/// the same trace id without a lookup; each event or job gets a span id of its own, derived from
/// its id.
public enum RunTrace {
    /// The trace id of run `runID`: its 32 lower-case hex digits.
    public static func traceID(of runID: UUID) -> String {
        runID.uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// `00-<trace id>-<span id>-01` for run `runID`, the span id derived from `span` (an event's
    /// or an attempt's id).
    public static func traceparent(runID: UUID, span: String) -> String {
        let digest = SHA256.hash(data: Array(span.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return "00-\(traceID(of: runID))-\(digest)-01"
    }

    /// The run an event subject (`run/<id>[/stage/<name>]`) is about.
    public static func runID(fromSubject subject: String?) -> UUID? {
        guard let subject, subject.hasPrefix("run/") else { return nil }
        return subject.split(separator: "/").dropFirst().first.flatMap { UUID(uuidString: String($0)) }
    }
}
