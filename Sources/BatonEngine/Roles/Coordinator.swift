import BatonCore
import BatonKafka
import BatonStore
import Logging
import ServiceLifecycle
import Tracing

/// The coordinator role: turns requests into runs and stage outcomes into the next steps.
///
/// It consumes `pipeline.requested` (and `run.cancel`) from the requests topic and stage
/// outcomes from the run events topic. Each event is handled in one PostgreSQL transaction
/// (inbox dedupe included) before its offset is committed.
public struct Coordinator: Service {
    private let loop: MessageLoop
    private let runs: RunStore
    private let topics: EventTopics
    private let specPolicy: SpecPolicy
    /// Whether workers apply their outcomes (``EngineConfiguration/directHandOff``).
    private let directHandOff: Bool
    private let logger: Logger

    /// A coordinator applying requests and outcomes with `runs`, its offsets and dead letters kept by `messaging`.
    public init(
        configuration: EngineConfiguration, runs: RunStore, messaging: MessagingStore, producer: KafkaProducer,
        logger: Logger
    ) throws {
        var logger = logger
        logger[metadataKey: LogKeys.role] = "coordinator"
        loop = try MessageLoop(
            group: "coordinator", topics: [configuration.topics.requested, configuration.topics.runEvents],
            consumerName: EngineConfiguration.coordinatorConsumer, configuration: configuration,
            messaging: messaging,
            producer: producer, logger: logger)
        self.runs = runs
        self.topics = configuration.topics
        self.specPolicy = configuration.specPolicy
        self.directHandOff = configuration.directHandOff
        self.logger = logger
    }

    /// Consumes `pipeline.requested` and `run.events` until graceful shutdown.
    public func run() async throws {
        try await loop.run { message in
            try await handle(message)
            return nil
        }
    }

    private func handle(_ message: KafkaConsumerMessage) async throws {
        let defaultType = message.topic == topics.requested ? EventType.pipelineRequested.rawValue : ""
        let event: CloudEvent
        do {
            event = try KafkaEvents.event(from: message, defaultType: defaultType)
        } catch {
            throw PoisonMessage(reason: error.message)
        }
        let consumerName = EngineConfiguration.coordinatorConsumer
        var metadata: Logger.Metadata = [LogKeys.eventID: "\(event.id)", LogKeys.eventType: "\(event.type)"]
        switch EventType(rawValue: event.type) {
        case .pipelineRequested:
            let started = DefaultTracerClock.now
            let outcome = try await runs.handleRequest(consumer: consumerName, policy: specPolicy, event: event)
            switch outcome {
            case .created(let runID):
                metadata[LogKeys.runID] = "\(runID.lowercased)"
                logger.info("run created", metadata: metadata)
                // The run's trace begins here (its id is known only now); the requester's own
                // trace, if any, is named on the span.
                let span = startSpan(
                    "coordinator accept", context: RunTrace.context(runID: runID), ofKind: .consumer, at: started)
                span.attributes["baton.run_id"] = runID.lowercased
                if let traceparent = event.traceparent { span.attributes["baton.request.traceparent"] = traceparent }
                span.end()
            case .duplicate(let runID):
                metadata[LogKeys.runID] = "\(runID?.lowercased ?? "-")"
                logger.info("duplicate request ignored", metadata: metadata)
            case .rejected:
                break
            }
        case .runCancel:
            let cancel = try decode(RunCancel.self, from: event)
            if try await runs.handleCancel(consumer: consumerName, event: event, cancel: cancel) {
                logger.info(
                    "run cancelled", metadata: metadata.merging([LogKeys.runID: "\(cancel.runId.lowercased)"]) { $1 })
            }
        case .stageSucceeded, .stageCached, .stageFailed:
            let outcome = try decode(StageOutcome.self, from: event)
            // Its worker applied it already (the direct hand-off): nothing is left to do. With the
            // hand-off off here, the outcome is applied in full (idempotent if a worker elsewhere did).
            if directHandOff,
                try await runs.outcomeApplied(event, outcome: outcome, consumer: consumerName)
            {
                break
            }
            try await runs.handleOutcome(consumer: consumerName, event: event, outcome: outcome)
        case .runSucceeded, .runFailed, .runCancelled, .runRejectedByGate:
            // Counted from the database's record, not the event's words: a label never takes a
            // value from the wire.
            let notice = try decode(RunNotice.self, from: event)
            if let runID = notice.runId, let run = try await runs.pipelineAndState(of: runID), run.state.isTerminal {
                EngineMetrics.runFinished(pipeline: run.pipeline, state: run.state)
            }
            return
        case .none:
            if message.topic == topics.requested {
                throw PoisonMessage(reason: "unknown event type '\(event.type)' on \(message.topic)")
            }
        default:
            // Baton's own notices (run.started, stage.ready, ...) share the run events topic.
            return
        }
        EngineMetrics.eventHandled(consumer: consumerName, type: event.type)
    }

    private func decode<T: Decodable>(_ type: T.Type, from event: CloudEvent) throws -> T {
        do {
            return try event.decode(T.self)
        } catch {
            throw PoisonMessage(reason: error.message)
        }
    }
}
