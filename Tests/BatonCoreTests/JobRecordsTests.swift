import BatonCore
import Foundation
import Testing

@Suite("Job records and contract")
struct JobRecordsTests {
    @Test("Outputs and metrics are read from a job log; broken lines are reported, not silently dropped")
    func parse() {
        let log = """
            2026-11-29 INFO starting
            ::baton::metric {"key":"loss","value":2.5,"step":0}
            ::baton::metric {"key":"loss","value":1.25,"step":1}
            (pid=123) ::baton::output {"name":"model","uri":"file:///a/model","md5":"abc.dir","size":10,"nfiles":2}
            ::baton::output {"name":"model","uri":"file:///b/model","md5":"def.dir","size":12,"nfiles":2}
            ::baton::metric {"key":"accuracy","value":0.9}
            ::baton::metric {"key":"bad","value":"high"}
            ::baton::thing {}
            """
        let records = JobRecords(log: log)
        #expect(
            records.outputs == [JobOutput(name: "model", uri: "file:///b/model", md5: "def.dir", size: 12, nfiles: 2)])
        #expect(
            records.metrics == [
                JobMetric(key: "loss", value: 2.5, step: 0), JobMetric(key: "loss", value: 1.25, step: 1),
                JobMetric(key: "accuracy", value: 0.9, step: 0),
            ])
        #expect(records.problems.count == 2)
        #expect(records.problems[0].hasPrefix("unreadable metric record"))
        #expect(records.problems[1] == "unknown record kind 'thing'")
    }

    @Test("The contract passes params and inputs as JSON, never in the command")
    func contract() throws {
        let contract = JobContract(
            runID: "r", stage: "sft", attemptID: "a", params: ["lr": .double(0.1), "name": .string("x; rm -rf /")],
            inputs: ["model": .object(["uri": .string("file:///m"), "md5": .string("1.dir")])], outputURI: "file:///o")
        let environment = try contract.environment()
        #expect(environment["BATON_PARAMS"] == #"{"lr":0.1,"name":"x; rm -rf /"}"#)
        #expect(environment["BATON_INPUTS"] == #"{"model":{"md5":"1.dir","uri":"file:///m"}}"#)
        #expect(environment["BATON_OUTPUT_URI"] == "file:///o")
        #expect(environment["BATON_STAGE"] == "sft")
    }
}
