/// Log metadata keys, in one place so logs stay greppable.
enum LogKeys {
    static let runID = "run_id"
    static let stage = "stage"
    static let attempt = "attempt"
    static let attemptID = "attempt_id"
    static let eventID = "event_id"
    static let eventType = "event_type"
    static let topic = "topic"
    static let partition = "partition"
    static let offset = "offset"
    static let error = "error"
    static let count = "count"
    static let role = "role"
    static let pool = "pool"
    static let gateClause = "gate_clause"
}
