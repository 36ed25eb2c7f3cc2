import BatonCore
import BatonKafka
import BatonRay
import BatonStore

/// The one place that decides whether a failure to handle an input is waited out or ends the input.
///
/// See ``FailureClass``. Poison (the message cannot be read), encoding and decoding errors and
/// database errors caused by the values written are permanent; a database, broker or cluster that
/// cannot be reached is transient; anything else is unknown and retried a bounded number of times.
enum HandlingFailure {
    static func classify(_ error: any Error) -> FailureClass {
        switch error {
        case is PoisonMessage, is EncodingError, is DecodingError, is EventError:
            return .permanent
        case let error as KafkaError:
            return error.isRetriable ? .transient : .unknown
        case let error as RayError:
            return error.isRetriable ? .transient : .unknown
        default:
            return DatabaseFailure.classify(error) ?? .unknown
        }
    }
}
