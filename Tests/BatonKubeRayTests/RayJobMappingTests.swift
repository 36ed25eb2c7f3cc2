import BatonCore
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

    // MARK: - Configuration

    @Test func inClusterConfigurationReadsTheServiceAccount() throws {
        let folder = try Self.folder()
        try "token-abc\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
        try "ml-jobs\n".write(toFile: folder + "/namespace", atomically: true, encoding: .utf8)
        try Self.caPEM.write(toFile: folder + "/ca.crt", atomically: true, encoding: .utf8)
        let configuration = try KubernetesConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
            directory: folder)
        #expect(configuration.server == "https://10.96.0.1:443")
        #expect(configuration.namespace == "ml-jobs")
        #expect(configuration.certificateAuthorityPEM == Array(Self.caPEM.utf8))
        guard case .tokenFile(let path) = configuration.credentials else {
            Issue.record("expected a token file")
            return
        }
        #expect(path == folder + "/token")
        #expect(!"\(configuration)".contains("token-abc"))
        // The CA is valid PEM, so a client can be made for this https server.
        _ = try KubernetesClient(configuration: configuration, logger: Logger(label: "test"))

        let ipv6 = try KubernetesConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], directory: folder)
        #expect(ipv6.server == "https://[fd00::1]:443")
    }

    @Test func outsideAPodInClusterConfigurationSaysWhatToDo() {
        let error = #expect(throws: KubernetesError.self) {
            try KubernetesConfiguration.inCluster(environment: [:], directory: "/nonexistent")
        }
        #expect(error?.code == .configuration)
        #expect(error?.reason.contains("kubeconfig") == true)
    }

    @Test func aBadCertificateIsAConfigurationError() {
        var configuration = KubernetesConfiguration(server: "https://k8s.example:6443", namespace: "baton")
        configuration.certificateAuthorityPEM = Array("not a certificate".utf8)
        let error = #expect(throws: KubernetesError.self) {
            try KubernetesClient(configuration: configuration, logger: Logger(label: "test"))
        }
        #expect(error?.code == .configuration)
    }

    @Test func kubeconfigPathsAreReadFromItsFolder() throws {
        let folder = try Self.folder()
        try Self.caPEM.write(toFile: folder + "/ca.pem", atomically: true, encoding: .utf8)
        try "file-token".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
        try """
        current-context: dev
        clusters:
        - name: dev
          cluster:
            server: https://dev.example:6443/
            certificate-authority: ca.pem
            insecure-skip-tls-verify: true
        contexts:
        - name: dev
          context: {cluster: dev, user: dev}
        users:
        - name: dev
          user: {tokenFile: token}
        """.write(toFile: folder + "/config", atomically: true, encoding: .utf8)
        let configuration = try KubernetesConfiguration.kubeconfig(at: folder + "/config")
        #expect(configuration.server == "https://dev.example:6443")
        #expect(configuration.namespace == "default")
        #expect(configuration.insecureSkipTLSVerify)
        #expect(configuration.certificateAuthorityPEM == Array(Self.caPEM.utf8))
        guard case .tokenFile(let path) = configuration.credentials else {
            Issue.record("expected a token file")
            return
        }
        #expect(path == folder + "/token")

        let missing = #expect(throws: KubernetesError.self) {
            try KubernetesConfiguration.kubeconfig(at: folder + "/config", context: "prod")
        }
        #expect(missing?.reason.contains("no context 'prod'") == true)
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

    static let caPEM = KubeRayLauncherTests.caPEM

    static func folder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-kuberay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.path
    }
}
