import Metrics

/// Metric names and labels, in one place.
enum EngineMetrics {
    static func eventHandled(consumer: String, type: String) {
        Counter(label: "baton_events_handled_total", dimensions: [("consumer", consumer), ("type", type)]).increment()
    }

    static func deadLettered(consumer: String) {
        Counter(label: "baton_dead_letters_total", dimensions: [("consumer", consumer)]).increment()
    }

    static func published(_ count: Int) {
        Counter(label: "baton_outbox_published_total").increment(by: count)
    }

    static func attemptFinished(state: String) {
        Counter(label: "baton_stage_attempts_total", dimensions: [("state", state)]).increment()
    }

    static func swept(_ kind: String, _ count: Int) {
        guard count > 0 else { return }
        Counter(label: "baton_sweeper_actions_total", dimensions: [("action", kind)]).increment(by: count)
    }

    static func raySubmitted(seconds: Double) {
        Timer(label: "baton_ray_submit_seconds").recordNanoseconds(Int64(seconds * 1e9))
    }

    static func handlingLatency(consumer: String, seconds: Double) {
        Timer(label: "baton_event_handling_seconds", dimensions: [("consumer", consumer)])
            .recordNanoseconds(Int64(seconds * 1e9))
    }
}
