/// The steps of an event's way from the transaction that wrote it to the consumer that acts on
/// it: the `hop` label of ``MetricCatalog/handoffHop``. A stage hand-off takes this way twice
/// (the outcome to the coordinator, then `stage.ready` to a worker); `baton bench` prints each.
public enum HandoffHop: String, Sendable, Hashable, CaseIterable {
    /// The outbox row inserted (just before its transaction commits) to the relay reading it:
    /// the commit, the `NOTIFY` wake-up and the relay's own queue.
    case outboxWait = "outbox_wait"
    /// The relay's produce call to the broker's acknowledgement (`acks=all`, `linger.ms`).
    case relayPublish = "relay_publish"
    /// The broker's last acknowledgement of a relay pass to the pass's commit of `published_at`.
    case relayCommit = "relay_commit"
    /// The record's timestamp (the relay's produce call) to the consumer receiving it: the
    /// broker's append and the consumer's fetch.
    case delivery
    /// The consumer receiving the record to its handling starting (the partition's lane busy).
    case laneWait = "lane_wait"
    /// Handing the offset commit to librdkafka to the broker's answer (off the hand-off's path).
    case offsetCommit = "offset_commit"
    /// A worker's claim committed to the stage's execution starting (the worker's concurrency).
    case executionWait = "execution_wait"
}
