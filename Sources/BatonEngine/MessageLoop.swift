import BatonCore
import BatonKafka
import BatonStore
import Foundation
import Logging
import PostgresNIO

/// Consumes a consumer's messages one by one: handle, then commit the offset.
///
/// The offset is committed only after the handler returned, that is after its database
/// transaction committed. Poison messages go to the dead-letter queue at once; messages whose
/// handling the database refused are retried with backoff, then dead-lettered; while the
/// database or broker cannot be reached the loop keeps retrying, so nothing is lost.
struct MessageLoop: Sendable {
    let consumer: KafkaConsumer
    let consumerName: String
    let deadLetters: DeadLetterQueue
    let maxAttempts: Int
    let logger: Logger

    func run(_ handle: (KafkaConsumerMessage) async throws -> Void) async throws {
        for try await message in consumer.messages {
            await process(message, handle)
            do {
                try await consumer.commit(message)
            } catch {
                // The partition moved to another member (which re-reads the message and dedupes),
                // or the consumer is shutting down.
                logger.warning(
                    "offset commit failed",
                    metadata: [
                        LogKeys.topic: "\(message.topic)", LogKeys.offset: "\(message.offset)",
                        LogKeys.error: "\(error)",
                    ])
            }
        }
    }

    private func process(_ message: KafkaConsumerMessage, _ handle: (KafkaConsumerMessage) async throws -> Void) async {
        var refusals = 0
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await handle(message)
                EngineMetrics.handlingLatency(
                    consumer: consumerName, seconds: (ContinuousClock.now - started).secondsDouble)
                return
            } catch let poison as PoisonMessage {
                await deadLetter(message, error: poison.reason, attempts: 1)
                return
            } catch {
                // A server-side refusal counts toward dead-lettering; an unreachable database does not.
                if Self.isRefusal(error) { refusals += 1 }
                if refusals >= maxAttempts {
                    await deadLetter(message, error: describeError(error), attempts: refusals)
                    return
                }
                logger.warning(
                    "handling failed; retrying",
                    metadata: [
                        LogKeys.topic: "\(message.topic)", LogKeys.offset: "\(message.offset)",
                        LogKeys.error: "\(describeError(error))", "retry_in_ms": "\(backoff.milliseconds)",
                    ])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }

    private func deadLetter(_ message: KafkaConsumerMessage, error: String, attempts: Int) async {
        var backoff: Duration = .milliseconds(200)
        while !Task.isCancelled {
            do {
                try await deadLetters.send(message, consumer: consumerName, error: error, attempts: attempts)
                return
            } catch {
                logger.warning("dead-lettering failed; retrying", metadata: [LogKeys.error: "\(error)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }

    private static func isRefusal(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            return isRefusal(error.closureError ?? error.commitError ?? error.beginError ?? error)
        }
        if let error = error as? PSQLError { return error.serverInfo != nil }
        return error is DecodingError || error is StoreError
    }
}
