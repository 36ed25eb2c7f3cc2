import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging
import ServiceLifecycle

/// Tells each pipeline's `notify:` targets of the runs' events (run ends, gate decisions,
/// rollout steps, registrations and promotions), run beside the coordinator in a consumer group
/// of its own: a slow or absent target never holds a run back. Each event reaches each target at
/// most once (a row claimed before the call), and every call ends in bounded time, delivered or
/// failed (``NotificationSender``).
public struct Notifier: Service {
    private let loop: MessageLoop
    private let runs: RunStore
    private let sender: NotificationSender
    private let logger: Logger

    /// A notifier reading the run events topic; target URLs and secrets come from `environment`.
    public init(
        configuration: EngineConfiguration, runs: RunStore, messaging: MessagingStore, producer: KafkaProducer,
        environment: [String: String], logger: Logger
    ) throws {
        var logger = logger
        logger[metadataKey: LogKeys.role] = "notifier"
        loop = try MessageLoop(
            group: "notifier", topics: [configuration.topics.runEvents], consumerName: "notifier",
            configuration: configuration, messaging: messaging, producer: producer, logger: logger)
        self.runs = runs
        sender = NotificationSender(environment: environment, logger: logger)
        self.logger = logger
    }

    /// Notifies until graceful shutdown.
    public func run() async throws {
        try await loop.run { message in
            try await handle(message)
            return nil
        }
    }

    private func handle(_ message: KafkaConsumerMessage) async throws {
        let event: CloudEvent
        do {
            event = try KafkaEvents.event(from: message, defaultType: "")
        } catch {
            throw PoisonMessage(reason: error.message)
        }
        guard NotificationTarget.notifiableEvents.contains(event.type),
            let runText = event.subject?.split(separator: "/").dropFirst().first,
            let runID = UUID(uuidString: String(runText)),
            let run = try await runs.pipelineAndSpec(of: runID)
        else { return }
        let spec = try PipelineSpecCache.shared.spec(run.specYAML)
        for target in spec.notify where target.events.contains(event.type) {
            guard
                try await runs.claimNotification(
                    eventID: event.id, target: target.name, runID: runID, eventType: event.type)
            else { continue }
            let (attempts, error) = await sender.send(event, pipeline: run.pipeline, to: target)
            try await runs.finishNotification(eventID: event.id, target: target.name, attempts: attempts, error: error)
            var metadata: Logger.Metadata = [
                LogKeys.runID: "\(runID.lowercased)", LogKeys.eventType: "\(event.type)",
                LogKeys.target: "\(target.name)",
                LogKeys.attempts: "\(attempts)",
            ]
            if let error {
                metadata[LogKeys.error] = "\(error)"
                logger.warning("notification not delivered", metadata: metadata)
            } else {
                logger.info("notification delivered", metadata: metadata)
            }
        }
    }
}
