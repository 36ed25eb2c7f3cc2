import BatonCore
import BatonKafka
import Foundation

/// Why the broker did not take an outbox event, and so what the relay does with it.
enum OutboxRefusal {
    /// Refused for good (too large, not authorized, invalid): park it.
    case permanent
    /// The topic does not exist (yet): defer it, since `serve` re-creates its topics after a broker
    /// lost them; park it once it has waited ``missingTopicGrace`` (a pool nobody created).
    case missingTopic
    /// The broker is away or slow: try again later.
    case transient

    /// How long an event may wait for its topic to appear before it is parked.
    static let missingTopicGrace: Duration = .seconds(120)

    /// librdkafka's names of errors that a retry of the same record cannot fix.
    static let permanentErrors: Set<String> = [
        "MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD",
        "TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED", "TOPIC_EXCEPTION", "_INVALID_ARG",
        "INVALID_REQUIRED_ACKS", "POLICY_VIOLATION",
    ]
    static let missingTopicErrors: Set<String> = ["UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION"]

    static func classify(_ error: KafkaError, createdAt: Date) -> OutboxRefusal {
        guard let name = error.underlyingName else { return .transient }
        if permanentErrors.contains(name) { return .permanent }
        if missingTopicErrors.contains(name) {
            let waited = Date().timeIntervalSince(createdAt)
            return waited > missingTopicGrace.secondsDouble ? .permanent : .missingTopic
        }
        return .transient
    }
}
