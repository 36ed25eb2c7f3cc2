import BatonCore
import BatonKubernetes
import BatonKubernetesTestSupport
import Foundation
import Logging
import Testing

/// Reading the API server's address, credentials and CA: in a pod, and from a kubeconfig.
@Suite("Kubernetes client configuration")
struct KubernetesConfigurationTests {
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

    // MARK: - Helpers

    static let caPEM = TestCertificate.caPEM

    static func folder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-kubernetes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.path
    }
}
