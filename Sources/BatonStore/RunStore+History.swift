import BatonCore
import Foundation
import PostgresNIO

/// One event of a run's history: a state change of the run, a stage or a model, numbered from 1
/// in commit order.
public struct RunHistoryEvent: Sendable, Hashable, Codable {
    /// Its number in the run's history (the live stream's event id).
    public var seq: Int
    /// The CloudEvents type, e.g. `stage.succeeded`.
    public var type: String
    /// The run's id, lowercased.
    public var runId: String
    /// The stage it is about, if any.
    public var stage: String?
    /// When it was recorded.
    public var time: Date
    /// The event's data, as published on Kafka.
    public var data: JSONValue

    enum CodingKeys: String, CodingKey {
        case seq, type, stage, time, data
        case runId = "run_id"
    }
}

extension RunStore {
    /// The events of a run's history after `after` (0 for all), oldest first, at most `limit`.
    public func history(_ runID: UUID, after: Int, limit: Int = 500) async throws -> [RunHistoryEvent] {
        let rows = try await client.statement(
            """
            SELECT seq, event_type, subject, recorded_at, payload FROM run_history
            WHERE run_id = \(runID) AND seq > \(after) ORDER BY seq LIMIT \(min(max(limit, 1), 5000))
            """, logger: logger)
        var events: [RunHistoryEvent] = []
        for try await (seq, type, subject, time, payload) in rows.decode((Int, String, String?, Date, ByteBuffer).self)
        {
            let data = (try? JSONDecoder().decode(JSONValue.self, from: Data(payload.readableBytesView))) ?? .null
            let stage = subject.flatMap { subject in
                subject.range(of: "/stage/").map { String(subject[$0.upperBound...]) }
            }
            events.append(
                RunHistoryEvent(seq: seq, type: type, runId: runID.lowercased, stage: stage, time: time, data: data))
        }
        return events
    }

    /// How many events each of `runIDs` has in its history (a run without events is absent).
    public func historyLengths(_ runIDs: [UUID]) async throws -> [UUID: Int] {
        let rows = try await client.statement(
            "SELECT id, history_length FROM runs WHERE id = ANY(\(runIDs)) AND history_length > 0", logger: logger)
        var lengths: [UUID: Int] = [:]
        for try await (id, length) in rows.decode((UUID, Int).self) { lengths[id] = length }
        return lengths
    }
}

extension RunStore {
    /// A run's state alone; nil when there is no such run.
    public func runState(_ runID: UUID) async throws -> RunState? {
        let rows = try await client.statement("SELECT state FROM runs WHERE id = \(runID)", logger: logger)
        for try await state in rows.decode(String.self) { return RunState(rawValue: state) ?? .failed }
        return nil
    }
}
