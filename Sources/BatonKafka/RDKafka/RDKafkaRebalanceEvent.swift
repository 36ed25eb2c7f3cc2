// MARK: - RDKafkaRebalanceEvent

/// A change of a consumer's assignment, reported after librdkafka applied it.
enum RDKafkaRebalanceEvent: Sendable {
    /// These partitions were added to the assignment.
    case assigned([KafkaTopicPartition])
    /// These partitions are about to leave the assignment (`lost` when the group already gave
    /// them to another member, for example after a session timeout).
    case revoked([KafkaTopicPartition], lost: Bool)
}
