import Testing

@testable import BatonKafka

@Suite("Consumer buffer state machine")
struct KafkaMessageBufferStateMachineTests {
    typealias Machine = KafkaMessageBufferStateMachine<Int>

    private func message(_ partition: Int32, _ offset: Int64, topic: String = "t") -> KafkaConsumerMessage {
        KafkaConsumerMessage(topic: topic, partition: partition, offset: offset, key: nil, value: [])
    }

    private func deliveredOffset(_ action: Machine.NextAction) -> Int64? {
        if case .deliver(let message) = action { return message.offset }
        return nil
    }

    @Test("fetching pauses at the capacity and resumes at half of it")
    func backpressure() {
        var machine = Machine(capacity: 4)
        for offset in 0..<3 { _ = machine.append(message(0, Int64(offset))) }
        #expect(machine.fetchDirective() == .none)
        _ = machine.append(message(0, 3))
        #expect(machine.fetchDirective() == .pause)
        #expect(machine.fetchDirective() == .none)
        #expect(deliveredOffset(machine.next(waiter: 1)) == 0)
        #expect(machine.fetchDirective() == .none)  // 3 left, above the low watermark
        #expect(deliveredOffset(machine.next(waiter: 1)) == 1)
        #expect(machine.fetchDirective() == .resume)  // 2 left
    }

    @Test("a waiting application gets the next record directly")
    func waiterResumes() {
        var machine = Machine(capacity: 4)
        guard case .suspend = machine.next(waiter: 7) else {
            Issue.record("expected to suspend")
            return
        }
        guard case .resume(let waiter, let delivered) = machine.append(message(1, 5)) else {
            Issue.record("expected to resume the waiter")
            return
        }
        #expect(waiter == 7)
        #expect(delivered.offset == 5)
        #expect(machine.count == 0)
    }

    @Test("records of revoked partitions are dropped, others keep their order")
    func revokeDrops() {
        var machine = Machine(capacity: 10)
        _ = machine.append(message(0, 0))
        _ = machine.append(message(1, 0))
        _ = machine.append(message(0, 1))
        _ = machine.append(message(2, 0))
        let dropped = machine.drop(partitions: [KafkaTopicPartition(topic: "t", partition: 0)])
        #expect(dropped == 2)
        var remaining: [Int32] = []
        while case .deliver(let next) = machine.next(waiter: 0) { remaining.append(next.partition) }
        #expect(remaining == [1, 2])
    }

    @Test("draining drops buffered records and ends the sequence at the next request")
    func draining() {
        var machine = Machine(capacity: 10)
        _ = machine.append(message(0, 0))
        #expect(machine.beginDraining() == nil)
        #expect(machine.count == 0)
        #expect(!machine.hasConsumerSeenEnd)
        guard case .none = machine.append(message(0, 1)) else {
            Issue.record("records must be dropped while draining")
            return
        }
        guard case .end = machine.next(waiter: 0) else {
            Issue.record("expected the end")
            return
        }
        #expect(machine.hasConsumerSeenEnd)
    }

    @Test("draining resumes a waiting application with the end")
    func drainingWakesWaiter() {
        var machine = Machine(capacity: 10)
        _ = machine.next(waiter: 3)
        #expect(machine.beginDraining() == 3)
        #expect(machine.hasConsumerSeenEnd)
    }

    @Test("a failure is reported once, then the sequence ends")
    func failureOnce() {
        var machine = Machine(capacity: 10)
        #expect(machine.finish(error: .consumerFailed("boom")) == nil)
        guard case .fail(let error) = machine.next(waiter: 0) else {
            Issue.record("expected the failure")
            return
        }
        #expect(error.code == .consumerFailed)
        guard case .end = machine.next(waiter: 0) else {
            Issue.record("expected the end")
            return
        }
    }

    @Test("a second concurrent iterator is refused")
    func oneIterator() {
        var machine = Machine(capacity: 10)
        _ = machine.next(waiter: 1)
        guard case .fail = machine.next(waiter: 2) else {
            Issue.record("expected a failure")
            return
        }
        #expect(machine.cancelWaiter() == 1)
    }
}
