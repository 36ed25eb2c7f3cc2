import BatonCore
import Foundation
import Yams

/// The parts of a kubeconfig file (`~/.kube/config`) Baton uses.
struct Kubeconfig: Decodable {
    struct Named<Value: Decodable>: Decodable {
        var name: String
        var value: Value?

        enum CodingKeys: String, CodingKey { case name, cluster, user, context }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            value =
                try container.decodeIfPresent(Value.self, forKey: .cluster)
                ?? container.decodeIfPresent(Value.self, forKey: .user)
                ?? container.decodeIfPresent(Value.self, forKey: .context)
        }
    }

    struct Cluster: Decodable {
        var server: String
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: YAMLPresence?
        var authProvider: YAMLPresence?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }

    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }

    /// Any value; only whether the key is there matters.
    struct YAMLPresence: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    var clusters: [Named<Cluster>]?
    var users: [Named<User>]?
    var contexts: [Named<Context>]?
    var currentContext: String?
    /// The file's folder, against which relative paths are read.
    var directory = ""

    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }

    static func parse(_ text: String, path: String) throws(KubernetesError) -> Kubeconfig {
        var config: Kubeconfig
        do {
            config = try YAMLDecoder().decode(Kubeconfig.self, from: text)
        } catch {
            throw .configuration("the kubeconfig at \(path) is not valid: \(error)")
        }
        config.directory = URL(filePath: path).deletingLastPathComponent().path
        return config
    }

    // MARK: - Resolving a context

    func configuration(context name: String?) throws(KubernetesError) -> KubernetesConfiguration {
        guard let contextName = name ?? currentContext, !contextName.isEmpty else {
            throw .configuration("the kubeconfig has no current-context; name one")
        }
        guard let context = contexts?.first(where: { $0.name == contextName })?.value else {
            throw .configuration("the kubeconfig has no context '\(contextName)'")
        }
        guard let cluster = clusters?.first(where: { $0.name == context.cluster })?.value else {
            throw .configuration("the kubeconfig has no cluster '\(context.cluster)' (context '\(contextName)')")
        }
        let user = try context.user.map { (userName) throws(KubernetesError) -> User in
            guard let user = users?.first(where: { $0.name == userName })?.value else {
                throw .configuration("the kubeconfig has no user '\(userName)' (context '\(contextName)')")
            }
            return user
        }
        var configuration = KubernetesConfiguration(
            server: cluster.server, namespace: context.namespace ?? "default", credentials: .none)
        configuration.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        configuration.certificateAuthorityPEM = try material(
            data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, what: "certificate-authority")
        guard let user else { return configuration }
        if let token = user.token, !token.isEmpty {
            configuration.credentials = .bearerToken(token)
        } else if let tokenFile = user.tokenFile {
            configuration.credentials = .tokenFile(resolve(tokenFile))
        }
        configuration.clientCertificatePEM = try material(
            data: user.clientCertificateData, file: user.clientCertificate, what: "client-certificate")
        configuration.clientKeyPEM = try material(
            data: user.clientKeyData, file: user.clientKey, what: "client-key")
        if case .none = configuration.credentials, configuration.clientCertificatePEM == nil,
            user.exec != nil || user.authProvider != nil
        {
            throw .configuration(
                "the kubeconfig user '\(context.user ?? "")' authenticates through an exec or auth-provider plugin, "
                    + "which Baton does not run: give it a token (e.g. a service-account token) or a client certificate"
            )
        }
        return configuration
    }

    /// PEM bytes from a base64 `-data` field or from a file.
    private func material(data: String?, file: String?, what: String) throws(KubernetesError) -> [UInt8]? {
        if let data {
            guard let decoded = Data(base64Encoded: data.filter { !$0.isWhitespace }) else {
                throw .configuration("the kubeconfig's \(what)-data is not base64")
            }
            return Array(decoded)
        }
        guard let file else { return nil }
        return try KubernetesConfiguration.readFile(resolve(file), what: "the kubeconfig's \(what)")
    }

    private func resolve(_ path: String) -> String {
        path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
    }
}
