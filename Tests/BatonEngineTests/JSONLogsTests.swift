import BatonTestSupport
import Foundation
import Testing

/// `BATON_LOG_FORMAT=json`: what a log pipeline reads from a real `baton serve`.
@Suite("JSON logs end to end", .serialized, .timeLimit(.minutes(3)))
struct JSONLogsTests {
    @Test("Every line of serve's log parses as JSON, and each attempt's lines carry run_id, stage and attempt")
    func everyLineIsJSON() async throws {
        let fixture = try await EngineFixture(environment: ["BATON_LOG_FORMAT": "json"])
        let serve = try fixture.serve("json-logs")
        let submitted = try await fixture.baton("submit", "examples/korean-llm-noop.yaml", "--wait", "--json")
        #expect(submitted.status == 0, "\(submitted.output)\n\(serve.log.suffix(3000))")
        let runID = try #require(
            (try JSONSerialization.jsonObject(with: Data(submitted.output.utf8)) as? [String: Any])?["run_id"]
                as? String)
        await serve.stop()
        let lines = serve.log.split(separator: "\n")
        #expect(lines.count > 20)
        var records: [[String: Any]] = []
        for line in lines {
            let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(record != nil, "not JSON: \(line.prefix(300))")
            if let record { records.append(record) }
        }
        for record in records {
            #expect(["time", "level", "logger", "message"].allSatisfy { record[$0] is String }, "\(record)")
        }
        let claimed = records.filter { $0["message"] as? String == "attempt claimed" }
        #expect(claimed.count == 8)
        #expect(
            claimed.allSatisfy { $0["run_id"] as? String == runID && $0["stage"] is String && $0["attempt"] != nil })
        #expect(Set(claimed.compactMap { $0["stage"] as? String }).count == 8)
    }
}
