import BatonCore
import BatonKubernetes
import BatonRay
import Foundation
import Logging
import Testing

@testable import BatonKubeRay

/// The pure parts: names, status mapping, configuration files. No server needed.
@Suite("KubeRay names, status mapping and configuration")
struct RayJobMappingTests {
    // MARK: - Names

    @Test func aUUIDAttemptIDIsUsedAsIs() {
        let name = RayJobName.make(submissionID: "0f8e3c52-9a1b-4c7d-8e2f-123456789abc")
        #expect(name == "baton-0f8e3c52-9a1b-4c7d-8e2f-123456789abc")
        #expect(RayJobName.isValid(name))
    }

    @Test(arguments: [
        "Attempt_ID/with:Odd.Characters", String(repeating: "x", count: 200), "-leading-dash", "UPPER", "a--",
    ])
    func anyIDBecomesAValidDeterministicName(_ id: String) {
        let name = RayJobName.make(submissionID: id)
        #expect(RayJobName.isValid(name), "\(name)")
        #expect(name.count <= 47)
        #expect(RayJobName.make(submissionID: id) == name)
    }

    @Test func idsThatCleanAlikeGetDifferentNames() {
        #expect(RayJobName.make(submissionID: "a_b") != RayJobName.make(submissionID: "a.b"))
        #expect(RayJobName.make(submissionID: "A") != RayJobName.make(submissionID: "a"))
        let long = String(repeating: "y", count: 60)
        #expect(RayJobName.make(submissionID: long + "1") != RayJobName.make(submissionID: long + "2"))
    }

    @Test func labelValuesAreValid() {
        #expect(RayJobManifest.labelValue("train") == "train")
        #expect(RayJobManifest.labelValue("-my stage/é-") == "my_stage")
        #expect(RayJobManifest.labelValue(String(repeating: "z", count: 80)).count == 63)
    }

    // MARK: - Status

    @Test(arguments: [
        // (jobDeploymentStatus, jobStatus, deleting) -> Ray status
        ("", "", false, RayJobDetails.Status.pending),
        ("Initializing", "", false, .pending),
        ("Waiting", "", false, .pending),
        ("Retrying", "FAILED", false, .pending),
        ("Retrying", "", false, .pending),
        ("Running", "PENDING", false, .pending),
        ("Running", "RUNNING", false, .running),
        ("Running", "SUCCEEDED", false, .succeeded),
        ("Complete", "SUCCEEDED", false, .succeeded),
        ("Complete", "FAILED", false, .failed),
        ("Complete", "STOPPED", false, .stopped),
        ("Complete", "", false, .failed),
        ("Failed", "", false, .failed),
        ("Failed", "RUNNING", false, .failed),
        ("Suspending", "RUNNING", false, .stopped),
        ("Suspended", "", false, .stopped),
        ("Running", "RUNNING", true, .stopped),
        ("Complete", "SUCCEEDED", true, .succeeded),
    ])
    func kubeRayStatusMapsToARayStatus(
        _ deployment: String, _ job: String, _ deleting: Bool, _ expected: RayJobDetails.Status
    ) {
        let mapped = RayJobResource.status(jobDeploymentStatus: deployment, jobStatus: job, isDeleting: deleting)
        #expect(mapped.status == expected)
    }

    @Test func aFailedDeploymentWithoutAMessageStillSaysWhy() throws {
        let json = #"""
            {"metadata":{"name":"baton-x","annotations":{"baton/submission-id":"x"}},
             "spec":{"entrypoint":"python t.py","jobId":"x"},
             "status":{"jobDeploymentStatus":"Failed","reason":"SubmissionFailed",
                       "endTime":"2025-01-02T03:04:05.5Z"}}
            """#
        let resource = try JSONDecoder().decode(RayJobResource.self, from: Data(json.utf8))
        let details = resource.details(submissionID: "x")
        #expect(details.status == .failed)
        #expect(details.errorType == "SubmissionFailed")
        #expect(details.message == "KubeRay marked the RayJob Failed")
        #expect(details.endTime == 1_735_787_045_500)
        #expect(details.jobID == "x")
    }

    @Test func aClusterTemplateMayBeAWholeRayCluster() throws {
        let folder = try Self.folder()
        try """
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "t"},
         "spec": {"rayVersion": "2.49.0", "headGroupSpec": {"rayStartParams": {}}}}
        """.write(toFile: folder + "/cluster.json", atomically: true, encoding: .utf8)
        let cluster = try KubeRayLauncher.Configuration.Cluster.templateFile(at: folder + "/cluster.json")
        #expect(
            cluster
                == .template(
                    .object([
                        "rayVersion": .string("2.49.0"), "headGroupSpec": .object(["rayStartParams": .object([:])]),
                    ])))
        let configuration = KubeRayLauncher.Configuration(
            kubernetes: .init(server: "http://127.0.0.1:1", namespace: "baton"), cluster: cluster)
        #expect(configuration.rayVersion == "2.49.0")

        try "workerGroupSpecs: []".write(toFile: folder + "/bad.yaml", atomically: true, encoding: .utf8)
        let error = #expect(throws: KubernetesError.self) {
            try KubeRayLauncher.Configuration.Cluster.templateFile(at: folder + "/bad.yaml")
        }
        #expect(error?.reason.contains("headGroupSpec") == true)
    }

    // MARK: - Helpers

    static func folder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-kuberay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.path
    }
}
