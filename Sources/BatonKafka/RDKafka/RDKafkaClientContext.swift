import Logging
import Synchronization

// MARK: - RDKafkaClientContext

/// What librdkafka's callbacks reach through the client's opaque pointer.
///
/// It is retained separately from ``RDKafkaClient`` and released only after `rd_kafka_destroy`
/// returned, because librdkafka's threads may log up to the very end.
final class RDKafkaClientContext: Sendable {
    /// Where librdkafka's log lines and errors go, with the client's metadata attached.
    let logger: Logger
    /// Records whose delivery reports are outstanding (producers).
    let deliveries = RDKafkaPendingOperations<KafkaDeliveryReport>()
    /// Offset commits whose results are outstanding (consumers).
    let commits = RDKafkaPendingOperations<Void>()
    /// Told about every assignment change, after it was applied (consumers).
    let rebalanceObserver: (@Sendable (RDKafkaRebalanceEvent) -> Void)?
    /// Whether the consumer's fetching is paused for backpressure, so that partitions assigned
    /// during a pause are paused too.
    let isFetchPaused = Atomic<Bool>(false)
    /// The fatal error librdkafka raised, if any; the client is unusable afterwards.
    let fatalError = Mutex<KafkaError?>(nil)

    /// Told every statistics report (consumers).
    let statisticsObserver: (@Sendable (KafkaConsumerStatistics) -> Void)?

    init(
        logger: Logger, rebalanceObserver: (@Sendable (RDKafkaRebalanceEvent) -> Void)? = nil,
        statisticsObserver: (@Sendable (KafkaConsumerStatistics) -> Void)? = nil
    ) {
        self.logger = logger
        self.rebalanceObserver = rebalanceObserver
        self.statisticsObserver = statisticsObserver
    }

    /// Logs a librdkafka log line; `level` is a syslog level (0 emergency ... 7 debug).
    func log(level: Int32, facility: String, message: String) {
        logger.log(
            level: Self.logLevel(syslog: level),
            "\(message)",
            metadata: [KafkaLogMetadataKey.facility: "\(facility)"],
            source: "librdkafka"
        )
    }

    /// The swift-log level for a syslog level.
    static func logLevel(syslog level: Int32) -> Logger.Level {
        switch level {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    }

    /// The syslog level (librdkafka's `log_level`) that lets through what `level` logs.
    static func syslogLevel(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
