import AsyncHTTPClient
import BatonTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

/// The API serving HTTPS itself (`BATON_API_TLS_CERT`, `BATON_API_TLS_KEY`) with a self-signed
/// certificate made by openssl for the test; the CLI trusts it through `BATON_API_CA_FILE`.
@Suite("HTTP API over TLS", .timeLimit(.minutes(5)))
struct APITLSTests {
    /// A self-signed certificate for 127.0.0.1 and its key, as PEM files.
    static func certificate() throws -> (certificate: URL, key: URL) {
        let folder = FileManager.default.temporaryDirectory.appending(path: "tls-\(TestStack.uniqueSuffix())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (certificate, key) = (folder.appending(path: "cert.pem"), folder.appending(path: "key.pem"))
        let openssl = Process()
        openssl.executableURL = URL(filePath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key.path, "-out",
            certificate.path,
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)
        return (certificate, key)
    }

    @Test("HTTPS answers with the configured certificate; plain HTTP gets no answer; the CLI works over HTTPS")
    func https() async throws {
        let (certificate, key) = try Self.certificate()
        let fixture = try await EngineFixture(environment: [
            "BATON_API_TLS_CERT": certificate.path, "BATON_API_TLS_KEY": key.path,
        ])
        let serve = try fixture.serve("api-tls")
        let token = try await APITests.makeToken(fixture, name: "tls", scopes: "runs:read")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(certificate.path)
        let base = "https://127.0.0.1:\(fixture.apiPort)"
        // Shut down however the body ends: a client left running crashes the test process.
        try await HTTPClient.withHTTPClient(configuration: .init(tlsConfiguration: tls)) { client in
            try await fixture.waitUntil("the API answers over HTTPS", timeout: .seconds(60)) {
                let response = try? await client.execute(
                    HTTPClientRequest(url: base + "/healthz"), timeout: .seconds(5))
                return response?.status == .ok
            }
            var request = HTTPClientRequest(url: base + "/v1/runs")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let runs = try await client.execute(request, timeout: .seconds(10))
            #expect(runs.status == .ok)
            let plain = try? await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(fixture.apiPort)/healthz"), timeout: .seconds(5))
            #expect(plain?.status != .ok, "plain HTTP is not served on the TLS port")
        }

        var remote = fixture.environment
        remote["BATON_API_URL"] = base
        remote["BATON_API_TOKEN"] = token
        remote["BATON_API_CA_FILE"] = certificate.path
        let listed = try await BatonProcess.run(["runs", "list", "--json"], environment: remote)
        #expect(listed.status == 0 && listed.output.hasPrefix("["), "\(listed.output)")
        remote["BATON_API_CA_FILE"] = nil
        let untrusted = try await BatonProcess.run(["runs", "list"], environment: remote)
        #expect(untrusted.status != 0, "a certificate the CLI does not trust is refused")
        await serve.stop()
    }
}
