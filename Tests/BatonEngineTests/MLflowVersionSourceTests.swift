import Testing

@testable import BatonEngine

@Suite("The source MLflow registers for a model version")
struct MLflowVersionSourceTests {
    @Test("An object-store URI is the source itself; a local path goes through the run's artifact")
    func sources() {
        let s3 = "s3://baton-artifacts/runs/r1/rlhf/1/model"
        #expect(MLflowMirror.source(of: s3, mlflowRunID: "abc") == s3)
        #expect(MLflowMirror.source(of: "file:///tmp/a/model", mlflowRunID: "abc") == "runs:/abc/baton-artifact")
        #expect(MLflowMirror.source(of: "/tmp/a/model", mlflowRunID: "abc") == "runs:/abc/baton-artifact")
    }
}
