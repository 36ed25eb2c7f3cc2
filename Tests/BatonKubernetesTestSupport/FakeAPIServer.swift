// No Kubernetes API server can run on this machine, so the tests of Baton's Kubernetes users
// (KubeRay, Argo Rollouts) talk to LOCAL FAKES of it: Hummingbird routers on 127.0.0.1 that keep
// the objects they serve in memory. This file holds what every fake shares: the answers the API
// server gives (a `Status` body with every error) and serving a router on a free port with a
// `KubernetesConfiguration` pointing at it.

import BatonCore
import BatonKubernetes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// Serves fake Kubernetes API routers and builds their answers.
public enum FakeAPIServer {
    /// A `Status` answer, as the API server sends with every error.
    public static func status(_ code: Int, reason: String, message: String) -> Response {
        json(
            code,
            .object([
                "kind": .string("Status"), "apiVersion": .string("v1"), "status": .string("Failure"),
                "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
            ]))
    }

    /// A JSON answer with status `code`.
    public static func json(_ code: Int, _ value: JSONValue) -> Response {
        let bytes = (try? CloudEvent.encode(value)) ?? []
        return Response(
            status: .init(code: code), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Serves `router` on a free loopback port for the length of `body`, which gets a client
    /// configuration for it (bearer token `token`, `requestTimeout`) and the port.
    public static func serve(
        _ router: Router<BasicRequestContext>, namespace: String, token: String, requestTimeout: Duration,
        logger: Logger, _ body: @escaping @Sendable (KubernetesConfiguration, Int) async throws -> Void
    ) async throws {
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            var kubernetes = KubernetesConfiguration(
                server: "http://127.0.0.1:\(port)", namespace: namespace, credentials: .bearerToken(token))
            kubernetes.requestTimeout = requestTimeout
            try await body(kubernetes, port)
        }
    }
}
