/// Where a pipeline's notifications go (`notify:`), and on which events:
///
/// ```yaml
/// notify:
///   - name: team
///     slack: {urlFrom: BATON_SLACK_WEBHOOK_URL}            # a Slack incoming webhook
///     on: [run.failed, gate.failed, rollout.aborted, model.promoted]
///   - name: audit
///     webhook: {urlFrom: BATON_NOTIFY_AUDIT_URL, secretFrom: BATON_NOTIFY_AUDIT_SECRET}
///     on: [run.succeeded, run.failed]
/// ```
///
/// The spec names environment variables of `baton serve`, never a URL or a secret, and only
/// `BATON_SLACK_WEBHOOK_URL` or names starting `BATON_NOTIFY_`: a spec cannot read the server's
/// other settings.
public struct NotificationTarget: Sendable, Hashable {
    /// How a target receives.
    public enum Kind: String, Sendable, Hashable {
        /// A Slack incoming webhook: `{"text": …}`.
        case slack
        /// Any HTTP endpoint: the CloudEvent as JSON, signed with HMAC-SHA256 when a secret is set
        /// (`X-Baton-Signature: sha256=<hex>` over `<X-Baton-Timestamp>.<body>`).
        case webhook
    }

    /// The target's name, unique in its pipeline.
    public var name: String
    /// How it receives.
    public var kind: Kind
    /// The environment variable holding its URL.
    public var urlVariable: String
    /// The environment variable holding a webhook's signing secret.
    public var secretVariable: String?
    /// The event types it is told about.
    public var events: Set<String>

    /// The event types a pipeline may be notified of.
    public static let notifiableEvents: Set<String> = [
        EventType.runSucceeded, .runFailed, .runCancelled, .runRejectedByGate, .gatePassed, .gateFailed,
        .rolloutStep, .rolloutSucceeded, .rolloutAborted, .modelRegistered, .modelPromoted,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    /// The most targets a pipeline may declare.
    public static let maxPerPipeline = 10

    /// Whether `name` is an environment variable a spec may name.
    public static func isAllowedVariable(_ name: String) -> Bool {
        guard name.utf8.count <= 100, name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) else {
            return false
        }
        return name == "BATON_SLACK_WEBHOOK_URL" || (name.hasPrefix("BATON_NOTIFY_") && name.count > 13)
    }
}
