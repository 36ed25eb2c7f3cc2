import BatonCore
import Foundation

/// Where the Kubernetes API server is and how to authenticate to it.
///
/// Made from the pod's service account (`inCluster`) or from a kubeconfig file (`kubeconfig`).
/// The bearer token never appears in `description`, logs or errors.
public struct KubernetesConfiguration: Sendable, CustomStringConvertible {
    /// How requests authenticate.
    public enum Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
        /// No `Authorization` header (client certificates may still authenticate).
        case none
        /// A fixed bearer token.
        case bearerToken(String)
        /// A bearer token read from a file, re-read at most once a minute so that rotated
        /// service-account tokens are picked up.
        case tokenFile(String)

        public var description: String {
            switch self {
            case .none: "none"
            case .bearerToken: "bearer token (redacted)"
            case .tokenFile(let path): "bearer token from \(path)"
            }
        }

        /// The same as `description`: never the secret itself.
        public var debugDescription: String { description }
    }

    /// The API server, e.g. `https://10.96.0.1:443`.
    public var server: String
    /// The namespace RayJobs are created in.
    public var namespace: String
    /// How Baton authenticates to the API server.
    public var credentials: Credentials
    /// PEM certificates that sign the API server's certificate. Default: none (the system's roots).
    public var certificateAuthorityPEM: [UInt8]?
    /// A PEM client certificate and its PEM private key, for clusters that authenticate by certificate.
    /// Default: none.
    public var clientCertificatePEM: [UInt8]?
    /// The PEM private key of ``clientCertificatePEM``.
    public var clientKeyPEM: [UInt8]?
    /// Skips verifying the API server's certificate (kubeconfig `insecure-skip-tls-verify`). Default: false.
    public var insecureSkipTLSVerify = false
    /// The longest one call may take, from sending the request to reading the whole answer.
    /// Default: 10 s.
    public var requestTimeout: Duration = .seconds(10)
    /// The most bytes of one answer read; a longer answer is an error. Default: 4 MiB.
    public var maxResponseBytes = 4 << 20

    /// - Parameters:
    ///   - server: the API server's URL; a trailing `/` is dropped.
    public init(server: String, namespace: String, credentials: Credentials = .none) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.namespace = namespace
        self.credentials = credentials
    }

    public var description: String {
        "Kubernetes API \(server), namespace \(namespace), credentials: \(credentials)"
    }

    // MARK: - In cluster

    /// The folder Kubernetes mounts a pod's service-account token, CA and namespace into.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The configuration of a pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT`, and
    /// `token`, `ca.crt` and `namespace` in `directory`.
    ///
    /// - Parameters:
    ///   - environment: the process environment.
    ///   - directory: where the service-account files are. Default: `serviceAccountDirectory`.
    /// - Throws: `KubernetesError` with code `configuration` when not running in a pod, or the
    ///   token is not mounted (`automountServiceAccountToken: false`).
    public static func inCluster(
        environment: [String: String], directory: String = serviceAccountDirectory
    ) throws(KubernetesError) -> KubernetesConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw .configuration(
                "KUBERNETES_SERVICE_HOST/PORT are not set: not running in a pod; set a kubeconfig file instead")
        }
        let tokenPath = directory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw .configuration(
                "no service-account token at \(tokenPath): mount it (automountServiceAccountToken: true)")
        }
        let namespace =
            (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "default"
        let authority = host.contains(":") ? "[\(host)]" : host
        var configuration = KubernetesConfiguration(
            server: "https://\(authority):\(port)", namespace: namespace.isEmpty ? "default" : namespace,
            credentials: .tokenFile(tokenPath))
        configuration.certificateAuthorityPEM = try readFile(directory + "/ca.crt", what: "the cluster CA")
        return configuration
    }

    // MARK: - Kubeconfig

    /// The configuration of a kubeconfig file's current context, or of `context`.
    ///
    /// Supports `server`, `certificate-authority(-data)`, `insecure-skip-tls-verify`, `token`,
    /// `tokenFile`, `client-certificate(-data)` and `client-key(-data)`; relative paths are read
    /// from the kubeconfig's folder. It does not run `exec` credential plugins or `auth-provider`s.
    ///
    /// - Throws: `KubernetesError` with code `configuration` when the file cannot be read, the
    ///   context is unknown, or the user authenticates only through a plugin.
    public static func kubeconfig(at path: String, context: String? = nil) throws(KubernetesError)
        -> KubernetesConfiguration
    {
        let text = String(decoding: try readFile(path, what: "the kubeconfig"), as: UTF8.self)
        return try Kubeconfig.parse(text, path: path).configuration(context: context)
    }

    /// The bytes of `path`, a `what` of the configuration, as a configuration error when unreadable.
    package static func readFile(_ path: String, what: String) throws(KubernetesError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .configuration("cannot read \(what) at \(path)")
        }
        return Array(data)
    }
}
