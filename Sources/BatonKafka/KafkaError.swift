// MARK: - KafkaError

/// The one error type that BatonKafka throws.
///
/// A `KafkaError` says what went wrong in a sentence (``reason``), classifies it with an extensible
/// ``code``, and tells whether trying the same operation again may succeed (``isRetriable``).
/// Where librdkafka reported the error, ``underlyingName`` holds librdkafka's symbolic name for it
/// (for example `_MSG_TIMED_OUT` or `TOPIC_ALREADY_EXISTS`), which is what to search for in
/// librdkafka's documentation.
///
/// Errors are made through the static factories, which capture the file and line that raised them.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public var code: Code
    /// A readable sentence that says what went wrong and, where possible, what to do.
    public var reason: String
    /// Whether the same operation may succeed when tried again later (a timeout, an unreachable
    /// broker, a rebalance in progress), as opposed to a failure that repeats (bad configuration).
    public var isRetriable: Bool
    /// librdkafka's symbolic name of the error, such as `_MSG_TIMED_OUT`, when librdkafka reported it.
    public var underlyingName: String?
    /// The source file that raised the error.
    public var file: String
    /// The source line that raised the error.
    public var line: Int

    /// Creates an error; prefer the static factories, which fill in ``code``.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - reason: A readable sentence.
    ///   - isRetriable: Whether a retry may succeed.
    ///   - underlyingName: librdkafka's name for the error, if it came from librdkafka.
    ///   - file: The raising file; defaults to the caller's.
    ///   - line: The raising line; defaults to the caller's.
    public init(
        code: Code,
        reason: String,
        isRetriable: Bool,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.isRetriable = isRetriable
        self.underlyingName = underlyingName
        self.file = file
        self.line = line
    }

    /// `KafkaError(code): reason [librdkafka: NAME]`.
    public var description: String {
        var text = "KafkaError(\(code)): \(reason)"
        if let underlyingName {
            text += " [librdkafka: \(underlyingName)]"
        }
        return text
    }
}

// MARK: - Code

extension KafkaError {
    /// The kind of a ``KafkaError``; new kinds may be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: String, Hashable, Sendable {
            case invalidConfiguration
            case clientCreationFailed
            case produceFailed
            case messageTimedOut
            case deliveryFailed
            case timedOut
            case topicCreationFailed
            case subscriptionFailed
            case commitFailed
            case consumerFailed
            case clientFailed
            case clientClosed
            case alreadyRunning
        }

        private let backing: Backing

        private init(_ backing: Backing) {
            self.backing = backing
        }

        /// A configuration value was rejected, or an option that Baton manages was overridden.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// librdkafka could not create a client handle.
        public static let clientCreationFailed = Code(.clientCreationFailed)
        /// librdkafka refused to enqueue a message (too large, unknown partition, queue full).
        public static let produceFailed = Code(.produceFailed)
        /// A message was not acknowledged within `message.timeout.ms` (often: broker unreachable).
        public static let messageTimedOut = Code(.messageTimedOut)
        /// The broker rejected a message, or delivery failed for another reason.
        public static let deliveryFailed = Code(.deliveryFailed)
        /// An operation (flush, admin request) did not finish within its timeout.
        public static let timedOut = Code(.timedOut)
        /// Creating a topic failed (other than "the topic already exists", which is success).
        public static let topicCreationFailed = Code(.topicCreationFailed)
        /// Subscribing to the configured topics failed.
        public static let subscriptionFailed = Code(.subscriptionFailed)
        /// Committing an offset failed.
        public static let commitFailed = Code(.commitFailed)
        /// The consumer hit a fatal error and stopped.
        public static let consumerFailed = Code(.consumerFailed)
        /// librdkafka raised a fatal error (for example a broken idempotence guarantee); the
        /// client is unusable and must be recreated.
        public static let clientFailed = Code(.clientFailed)
        /// The client was shut down or closed before (or while) the operation ran.
        public static let clientClosed = Code(.clientClosed)
        /// `run()` was called on a service that is already running or has run.
        public static let alreadyRunning = Code(.alreadyRunning)

        /// The code's name, such as `messageTimedOut`.
        public var description: String { backing.rawValue }
    }
}

// MARK: - Factories

extension KafkaError {
    /// A configuration value was rejected.
    public static func invalidConfiguration(
        _ reason: String,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .invalidConfiguration,
            reason: reason,
            isRetriable: false,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// librdkafka could not create a client handle.
    public static func clientCreationFailed(_ reason: String, file: String = #fileID, line: Int = #line) -> KafkaError {
        KafkaError(code: .clientCreationFailed, reason: reason, isRetriable: false, file: file, line: line)
    }

    /// librdkafka refused to enqueue a message.
    public static func produceFailed(
        _ reason: String,
        isRetriable: Bool,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .produceFailed,
            reason: reason,
            isRetriable: isRetriable,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// A message was not acknowledged within its timeout.
    public static func messageTimedOut(
        _ reason: String,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .messageTimedOut,
            reason: reason,
            isRetriable: true,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// Delivery of a message failed.
    public static func deliveryFailed(
        _ reason: String,
        isRetriable: Bool,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .deliveryFailed,
            reason: reason,
            isRetriable: isRetriable,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// An operation did not finish within its timeout.
    public static func timedOut(_ reason: String, file: String = #fileID, line: Int = #line) -> KafkaError {
        KafkaError(code: .timedOut, reason: reason, isRetriable: true, file: file, line: line)
    }

    /// Creating a topic failed.
    public static func topicCreationFailed(
        _ reason: String,
        isRetriable: Bool,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .topicCreationFailed,
            reason: reason,
            isRetriable: isRetriable,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// Subscribing failed.
    public static func subscriptionFailed(
        _ reason: String,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .subscriptionFailed,
            reason: reason,
            isRetriable: false,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// Committing an offset failed.
    public static func commitFailed(
        _ reason: String,
        isRetriable: Bool,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .commitFailed,
            reason: reason,
            isRetriable: isRetriable,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// The consumer hit a fatal error.
    public static func consumerFailed(
        _ reason: String,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .consumerFailed,
            reason: reason,
            isRetriable: false,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// librdkafka raised a fatal error; the client must be recreated.
    public static func clientFailed(
        _ reason: String,
        underlyingName: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: .clientFailed,
            reason: reason,
            isRetriable: false,
            underlyingName: underlyingName,
            file: file,
            line: line
        )
    }

    /// The client was shut down or closed.
    public static func clientClosed(_ reason: String, file: String = #fileID, line: Int = #line) -> KafkaError {
        KafkaError(code: .clientClosed, reason: reason, isRetriable: false, file: file, line: line)
    }

    /// `run()` was called twice.
    public static func alreadyRunning(_ reason: String, file: String = #fileID, line: Int = #line) -> KafkaError {
        KafkaError(code: .alreadyRunning, reason: reason, isRetriable: false, file: file, line: line)
    }
}
