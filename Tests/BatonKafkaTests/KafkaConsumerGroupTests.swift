import BatonKafka
import Testing

/// The two rebalance protocols librdkafka speaks.
enum RebalanceProtocol: String, CaseIterable, Sendable {
    case eager
    case cooperative

    var strategies: [KafkaConsumerConfiguration.PartitionAssignmentStrategy] {
        switch self {
        case .eager: [.range, .roundRobin]
        case .cooperative: [.cooperativeSticky]
        }
    }
}

@Suite("Kafka consumer groups (real broker)", .timeLimit(.minutes(3)))
struct KafkaConsumerGroupTests {
    @Test(
        "two members of one group share a 4-partition topic, each record consumed once",
        arguments: RebalanceProtocol.allCases
    )
    func twoMembersSharePartitions(rebalanceProtocol: RebalanceProtocol) async throws {
        let topic = KafkaTestEnvironment.uniqueName("shared")
        let group = KafkaTestEnvironment.uniqueName("shared")
        try await KafkaTestEnvironment.createTopics([KafkaTopicSpec(name: topic, partitions: 4)])

        var configuration = try KafkaTestEnvironment.consumerConfiguration(group: group, topics: [topic])
        configuration.partitionAssignmentStrategies = rebalanceProtocol.strategies
        let first = ConsumerProbe(
            try KafkaConsumer(configuration: configuration, logger: KafkaTestEnvironment.logger("a")))
        let second = ConsumerProbe(
            try KafkaConsumer(configuration: configuration, logger: KafkaTestEnvironment.logger("b"))
        )
        let recordCount = 40

        try await first.whileRunning {
            try await second.whileRunning {
                // Steady state: both members own partitions, together all four, none twice.
                try await KafkaTestEnvironment.waitUntil("the group to settle", timeout: .seconds(40)) {
                    let a = Set(first.consumer.assignment)
                    let b = Set(second.consumer.assignment)
                    return !a.isEmpty && !b.isEmpty && a.isDisjoint(with: b) && a.union(b).count == 4
                }

                let producer = try KafkaProducer(
                    configuration: try KafkaTestEnvironment.producerConfiguration(),
                    logger: KafkaTestEnvironment.logger("producer")
                )
                for index in 0..<recordCount {
                    _ = try await producer.send(
                        KafkaProducerMessage(
                            topic: topic,
                            partition: Int32(index % 4),
                            key: "key-\(index)",
                            value: Array("\(index)".utf8)
                        )
                    )
                }
                await producer.shutdown()

                try await KafkaTestEnvironment.waitUntil("all records", timeout: .seconds(30)) {
                    first.messages.count + second.messages.count >= recordCount
                }
                // Give a duplicate the chance to show up.
                try await Task.sleep(for: .milliseconds(500))
            }
        }

        let a = first.messages
        let b = second.messages
        #expect(!a.isEmpty)
        #expect(!b.isEmpty)
        #expect(Set(a.map(\.partition)).isDisjoint(with: Set(b.map(\.partition))))
        let keys = (a + b).compactMap(\.keyString)
        #expect(keys.count == recordCount)
        #expect(Set(keys) == Set((0..<recordCount).map { "key-\($0)" }))
    }

    @Test("a new member resumes exactly after the committed offset")
    func resumeFromCommittedOffset() async throws {
        let topic = KafkaTestEnvironment.uniqueName("resume")
        let group = KafkaTestEnvironment.uniqueName("resume")
        try await KafkaTestEnvironment.createTopics([KafkaTopicSpec(name: topic, partitions: 1)])

        let total = 10
        let committed = 4
        let producer = try KafkaProducer(
            configuration: try KafkaTestEnvironment.producerConfiguration(),
            logger: KafkaTestEnvironment.logger("producer")
        )
        var offsets: [Int64] = []
        for index in 0..<total {
            offsets.append(
                try await producer.send(KafkaProducerMessage(topic: topic, key: "k", value: Array("\(index)".utf8)))
                    .offset
            )
        }
        await producer.shutdown()
        let firstUncommitted = offsets[committed]

        let configuration = try KafkaTestEnvironment.consumerConfiguration(group: group, topics: [topic])
        // The first member commits the first `committed` records only.
        let first = ConsumerProbe(
            try KafkaConsumer(configuration: configuration, logger: KafkaTestEnvironment.logger("first"))
        ) { consumer, message in
            if message.offset < firstUncommitted {
                try await consumer.commit(message)
            }
        }
        try await first.whileRunning {
            try await KafkaTestEnvironment.waitUntil("all records at the first member", timeout: .seconds(30)) {
                first.messages.count >= total
            }
        }
        #expect(first.messages.map(\.offset) == offsets)

        let second = ConsumerProbe(
            try KafkaConsumer(configuration: configuration, logger: KafkaTestEnvironment.logger("second"))
        )
        try await second.whileRunning {
            try await KafkaTestEnvironment.waitUntil("the rest at the second member", timeout: .seconds(30)) {
                second.messages.count >= total - committed
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(second.messages.map(\.offset) == Array(offsets[committed...]))
    }

    @Test("a member that shuts down gracefully hands its partitions over well before its session expires")
    func gracefulLeaveHandsOverPromptly() async throws {
        let topic = KafkaTestEnvironment.uniqueName("handover")
        let group = KafkaTestEnvironment.uniqueName("handover")
        try await KafkaTestEnvironment.createTopics([KafkaTopicSpec(name: topic, partitions: 2)])
        var configuration = try KafkaTestEnvironment.consumerConfiguration(group: group, topics: [topic])
        // A member that vanished would be noticed only after this long; one that leaves is
        // handed over after one rebalance round (Tansu answers a JoinGroup after about half the
        // session timeout).
        configuration.sessionTimeout = .seconds(12)
        configuration.maxPollInterval = .seconds(12)
        let stayer = ConsumerProbe(
            try KafkaConsumer(configuration: configuration, logger: KafkaTestEnvironment.logger("s")))
        let leaver = ConsumerProbe(
            try KafkaConsumer(configuration: configuration, logger: KafkaTestEnvironment.logger("l")))
        let clock = ContinuousClock()
        try await stayer.whileRunning {
            try await leaver.whileRunning {
                try await KafkaTestEnvironment.waitUntil("both members to own a partition", timeout: .seconds(40)) {
                    stayer.consumer.assignment.count == 1 && leaver.consumer.assignment.count == 1
                }
            }
            #expect(leaver.consumer.assignment.isEmpty)
            let left = clock.now
            try await KafkaTestEnvironment.waitUntil("the stayer to own both partitions", timeout: .seconds(30)) {
                stayer.consumer.assignment.count == 2
            }
            #expect(clock.now - left < .seconds(11), "handover took \(clock.now - left)")
        }
    }

    @Test("backpressure pauses and resumes fetching without losing, duplicating or reordering records")
    func backpressure() async throws {
        let topic = KafkaTestEnvironment.uniqueName("backpressure")
        try await KafkaTestEnvironment.createTopics([KafkaTopicSpec(name: topic, partitions: 2)])
        let producer = try KafkaProducer(
            configuration: try KafkaTestEnvironment.producerConfiguration(),
            logger: KafkaTestEnvironment.logger("producer")
        )
        let total = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                group.addTask {
                    _ = try await producer.send(
                        KafkaProducerMessage(
                            topic: topic,
                            partition: Int32(index % 2),
                            key: "k\(index)",
                            value: Array("\(index)".utf8)
                        )
                    )
                }
            }
            try await group.waitForAll()
        }
        await producer.shutdown()

        var configuration = try KafkaTestEnvironment.consumerConfiguration(
            group: KafkaTestEnvironment.uniqueName("backpressure"),
            topics: [topic]
        )
        configuration.messageBufferSize = 8
        // Each resume waits for the fetch in flight; a short broker wait keeps the test quick.
        configuration.extra["fetch.wait.max.ms"] = "50"
        let probe = ConsumerProbe(
            try KafkaConsumer(configuration: configuration, logger: KafkaTestEnvironment.logger("bp"))
        ) {
            _, _ in try await Task.sleep(for: .milliseconds(1))
        }
        try await probe.whileRunning {
            try await KafkaTestEnvironment.waitUntil("all records", timeout: .seconds(40)) {
                probe.messages.count >= total
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(probe.messages.count == total)
        for partition in [Int32(0), 1] {
            let offsets = probe.messages.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == Array(offsets.min()!...offsets.max()!))
            #expect(offsets.count == total / 2)
        }
    }

    @Test("commit needs a running consumer")
    func commitBeforeRun() async throws {
        let consumer = try KafkaConsumer(
            configuration: try KafkaTestEnvironment.consumerConfiguration(group: "unused", topics: ["unused"]),
            logger: KafkaTestEnvironment.logger("idle")
        )
        let message = KafkaConsumerMessage(topic: "unused", partition: 0, offset: 0, key: nil, value: [])
        await #expect(throws: KafkaError.self) { try await consumer.commit(message) }
    }
}
