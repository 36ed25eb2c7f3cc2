import Testing

@testable import BatonHTTPClient

/// The `endpoint` label of outbound call metrics keeps kinds of things and drops ids.
@Suite("HTTP endpoint labels")
struct HTTPEndpointLabelTests {
    @Test(
        "Ids, keys and submission ids become {}; API versions and fixed words stay",
        arguments: [
            ("GET", "/api/jobs/0f6c2d4e-8a1b-4c2d-9e3f-1a2b3c4d5e6f", "GET /api/jobs/{}"),
            ("GET", "/api/jobs/raysubmit_Xk2a/logs", "GET /api/jobs/{}/logs"),
            ("POST", "/api/2.0/mlflow/runs/log-batch", "POST /api/2.0/mlflow/runs/log-batch"),
            (
                "GET", "/apis/ray.io/v1/namespaces/baton/rayjobs/baton-7f3a",
                "GET /apis/ray.io/v1/namespaces/baton/rayjobs/{}"
            ),
            (
                "GET", "/apis/argoproj.io/v1alpha1/namespaces/ml/rollouts/korean-llm",
                "GET /apis/argoproj.io/v1alpha1/namespaces/ml/rollouts/korean-llm"
            ),
            (
                "HEAD", "/baton-artifacts/runs/3b1e/sft/1/model/config.json",
                "HEAD /baton-artifacts/runs/{}/sft/{}/model/config.json"
            ),
            ("GET", "/api/v1/query?query=sum(rate(x[1m]))", "GET /api/v1/query"),
            ("GET", "/apis/batch/v1beta12/jobs/v", "GET /apis/batch/v1beta12/jobs/v"),
            ("GET", "/a/v1beta/v2gamma1/3.14/v", "GET /a/{}/{}/{}/v"),
        ])
    func template(method: String, path: String, expected: String) {
        #expect(HTTPEndpointLabel.template(method: method, path: path) == expected)
    }

    @Test("Past the limit of endpoints of one service, a new endpoint is counted as other")
    func bounded() {
        let labels = HTTPEndpointLabel()
        for index in 0..<HTTPEndpointLabel.limit {
            #expect(
                labels.label(
                    service: "S3", method: "GET",
                    path:
                        "/bucket/kind-\(String(UnicodeScalar(97 + index % 26)!))\(String(repeating: "x", count: index / 26))"
                ) != "other")
        }
        #expect(labels.label(service: "S3", method: "GET", path: "/bucket/one-more") == "other")
        #expect(labels.label(service: "S3", method: "GET", path: "/bucket/kind-a") == "GET /bucket/kind-a")
        #expect(labels.label(service: "Ray", method: "GET", path: "/api/version") == "GET /api/version")
    }
}
