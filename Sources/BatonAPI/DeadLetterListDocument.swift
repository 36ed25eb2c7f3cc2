import BatonStore

/// `GET /v1/dead-letters`: the store's dead letters and parked outbox rows as they are (schema
/// `DeadLetterList`).
struct DeadLetterListDocument: Codable, Hashable, Sendable {
    var deadLetters: [DeadLetterView]
    var parkedOutbox: [ParkedOutboxEvent]

    enum CodingKeys: String, CodingKey {
        case deadLetters = "dead_letters"
        case parkedOutbox = "parked_outbox"
    }
}
