import AsyncHTTPClient
import BatonCore
import BatonHTTPClient
import Crypto
import Foundation
import Logging
import NIOHTTP1

/// The S3 calls Baton makes itself — `HEAD` an object, list a prefix — signed with SigV4 over
/// async-http-client. (No Swift AWS SDK is in Baton's package set; jobs use boto3.)
public struct S3Client: Sendable {
    /// Where S3 is and who Baton is there.
    public let configuration: S3Configuration
    private let credentials: S3CredentialProvider
    private let httpClient: HTTPClient
    private let logger: Logger

    /// The most keys ``list(_:limit:)`` reads under one prefix by default.
    public static let listLimit = 100_000

    /// A client for `configuration`, over `httpClient`.
    public init(configuration: S3Configuration, httpClient: HTTPClient = .baton, logger: Logger) {
        self.configuration = configuration
        self.credentials = S3CredentialProvider(
            source: configuration.credentials, timeout: configuration.requestTimeout, logger: logger)
        self.httpClient = httpClient
        self.logger = logger
    }

    /// The object at `location`; `nil` when there is none.
    public func head(_ location: S3Location) async throws(S3Error) -> S3Object? {
        let answer = try await send(.HEAD, location, expect: [200, 404])
        guard answer.status == 200 else { return nil }
        guard let size = answer.headers.first(name: "Content-Length").flatMap({ Int64($0) }) else {
            throw .badResponse("S3's answer to HEAD \(location) has no Content-Length")
        }
        return S3Object(key: location.key, size: size, etag: answer.headers.first(name: "ETag") ?? "")
    }

    /// The objects whose keys start with `prefix.key`, in key order (`ListObjectsV2`, page by page).
    ///
    /// - Throws: ``S3Error/badResponse(_:)`` past `limit` keys.
    public func list(_ prefix: S3Location, limit: Int = listLimit) async throws(S3Error) -> [S3Object] {
        var objects: [S3Object] = []
        var continuation: String?
        repeat {
            var query = ["list-type": "2", "prefix": prefix.key]
            if let continuation { query["continuation-token"] = continuation }
            let bucket = S3Location(bucket: prefix.bucket, key: "")
            let xml = Substring(decoding: try await send(.GET, bucket, query: query).body, as: UTF8.self)
            for entry in S3XML.values("Contents", in: xml) {
                guard let key = S3XML.value("Key", in: entry),
                    let size = S3XML.value("Size", in: entry).flatMap(Int64.init)
                else { throw .badResponse("S3 listed an object without Key or Size under \(prefix)") }
                objects.append(S3Object(key: key, size: size, etag: S3XML.value("ETag", in: entry) ?? ""))
            }
            guard objects.count <= limit else { throw .badResponse("more than \(limit) objects under \(prefix)") }
            continuation =
                S3XML.value("IsTruncated", in: xml) == "true" ? S3XML.value("NextContinuationToken", in: xml) : nil
        } while continuation != nil
        return objects
    }

    /// Whether any object's key starts with `prefix.key` (one `ListObjectsV2` of one key).
    public func hasObjects(under prefix: S3Location) async throws(S3Error) -> Bool {
        let bucket = S3Location(bucket: prefix.bucket, key: "")
        let answer = try await send(.GET, bucket, query: ["list-type": "2", "prefix": prefix.key, "max-keys": "1"])
        return !S3XML.values("Contents", in: Substring(decoding: answer.body, as: UTF8.self)).isEmpty
    }

    /// Sends a signed request for `location` and returns the answer.
    ///
    /// - Parameters:
    ///   - body: the payload, signed by its SHA-256.
    ///   - expect: the statuses that are an answer; any other is ``S3Error/refused(status:_:)``
    ///     with S3's error code and message.
    public func send(
        _ method: HTTPMethod, _ location: S3Location, query: [String: String] = [:], body: [UInt8]? = nil,
        expect: Set<Int> = [200]
    ) async throws(S3Error) -> JSONHTTPClient.Answer {
        let (baseURL, host, path) = configuration.address(of: location)
        let payload = body.map { SHA256.hash(data: $0).lowercaseHex }
        let signer = SigV4Signer(credentials: try await credentials.credentials(), region: configuration.region)
        var headers = HTTPHeaders()
        for header in signer.headers(
            method: method.rawValue, host: host, path: path, query: query,
            payloadSHA256: payload ?? SigV4Signer.emptyPayloadSHA256)
        {
            headers.add(name: header.name, value: header.value)
        }
        var client = JSONHTTPClient.Configuration(service: "S3", baseURL: baseURL)
        client.requestTimeout = configuration.requestTimeout
        let answer: JSONHTTPClient.Answer
        do {
            answer = try await JSONHTTPClient(configuration: client, httpClient: httpClient, logger: logger).send(
                method, path, query: query, body: body, contentType: "application/octet-stream",
                accept: "application/xml", headers: headers, expect: nil)
        } catch {
            throw .unavailable("S3 at \(baseURL): \(error.reason)")
        }
        guard expect.contains(answer.status) else {
            let xml = Substring(decoding: answer.body.prefix(JSONHTTPClient.refusalBytes), as: UTF8.self)
            let code = S3XML.value("Code", in: xml) ?? "no error code"
            let message = S3XML.value("Message", in: xml).map { ": \($0)" } ?? ""
            throw .refused(status: answer.status, "S3 refused \(method) \(location): \(code)\(message)")
        }
        return answer
    }
}
