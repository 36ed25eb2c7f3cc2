import AsyncHTTPClient
import BatonCore
import BatonHTTPClient
import Foundation
import Logging
import NIOHTTP1

/// A client of the Ray Jobs REST API on a Ray head's dashboard port.
///
/// Every call has a timeout; errors carry Ray's message. Submission is idempotent: the
/// submission id is Baton's attempt id, and Ray's "already exists" answer to a repeated
/// submission is treated as success.
public struct RayJobClient: Sendable {
    /// Where Ray is and how to reach it.
    public struct Configuration: Sendable {
        /// The dashboard address, e.g. `http://127.0.0.1:8265`.
        public var address: String
        /// A bearer token, sent as `Authorization` and `X-Ray-Authorization`. Default: none.
        public var token: String?
        /// The longest one call may take, answer included. Default: 30 s: the dashboard is one
        /// Python process that a busy head can leave silent for seconds, and every call is safe to
        /// repeat (a submission is keyed by its id).
        public var requestTimeout: Duration = .seconds(30)
        /// The most bytes of job log kept: a longer log is read to its end and only its last
        /// `maxLogBytes` are kept (the job's `::baton::` records come last). Default: 16 MiB.
        public var maxLogBytes = 16 << 20
        /// The most bytes of any other answer read. Default: 16 MiB.
        public var maxResponseBytes = 16 << 20

        /// The dashboard at `address` (a trailing `/` is dropped), with an optional bearer `token`.
        public init(address: String, token: String? = nil) {
            self.address = address.hasSuffix("/") ? String(address.dropLast()) : address
            self.token = token
        }
    }

    /// Where Ray is and how to reach it.
    public let configuration: Configuration
    private let http: JSONHTTPClient
    private let logger: Logger

    /// A client of the Ray head in `configuration`.
    public init(configuration: Configuration, httpClient: HTTPClient = .baton, logger: Logger) {
        self.configuration = configuration
        var endpoint = JSONHTTPClient.Configuration(service: "Ray", baseURL: configuration.address)
        endpoint.requestTimeout = configuration.requestTimeout
        endpoint.maxResponseBytes = configuration.maxResponseBytes
        if let token = configuration.token {
            endpoint.headers.add(name: "Authorization", value: "Bearer \(token)")
            endpoint.headers.add(name: "X-Ray-Authorization", value: "Bearer \(token)")
        }
        self.http = JSONHTTPClient(configuration: endpoint, httpClient: httpClient, logger: logger)
        self.logger = logger
    }

    // MARK: - API

    /// `GET /api/version`.
    public func version() async throws(RayError) -> RayServerVersion {
        try await fetch(RayServerVersion.self, .GET, "/api/version")
    }

    /// Submits a job; if Ray already has a job with this submission id, returns that job.
    ///
    /// - Parameter server: the server's version, so that only fields it knows are sent.
    public func submit(_ submission: RayJobSubmission, server: RayServerVersion) async throws(RayError) -> RayJobDetails
    {
        let body = submission.body(for: server)
        do {
            _ = try await call(.POST, "/api/jobs/", body: try? CloudEvent.encode(body), expect: [200])
        } catch  where error.status == 500 && Self.isDuplicate(error.reason) {
            logger.info("ray job already submitted", metadata: [LogKeys.submissionID: "\(submission.submissionID)"])
        }
        return try await job(submission.submissionID)
    }

    /// `GET /api/jobs/{submission_id}`.
    public func job(_ submissionID: String) async throws(RayError) -> RayJobDetails {
        try await fetch(RayJobDetails.self, .GET, "/api/jobs/\(JSONHTTPClient.segment(submissionID))")
    }

    /// Every job Ray knows (`GET /api/jobs/`).
    public func list() async throws(RayError) -> [RayJobDetails] {
        try await fetch([RayJobDetails].self, .GET, "/api/jobs/")
    }

    /// The job's driver log (`GET /api/jobs/{submission_id}/logs`): all of it, or its last
    /// ``Configuration/maxLogBytes`` (from the first whole line on) when it is longer.
    ///
    /// Ray has no call for the end of a log, so the answer is streamed and decoded as it comes,
    /// keeping only the end: memory stays bounded however long the log is.
    ///
    /// - Throws: ``RayError``: `.notFound` for an unknown job, `.unavailable` (retriable) when Ray
    ///   does not answer or the answer breaks off, `.badResponse` when it is not the documented JSON.
    public func logs(_ submissionID: String) async throws(RayError) -> String {
        let path = "/api/jobs/\(JSONHTTPClient.segment(submissionID))/logs"
        let tail: RayJobLogTail
        do {
            tail = try await http.stream(path, into: RayJobLogTail(limit: configuration.maxLogBytes)) {
                try $0.feed($1)
            }
        } catch {
            throw RayError(error)
        }
        if tail.isTruncated {
            logger.info(
                "job log longer than the read limit; kept its end",
                metadata: [
                    LogKeys.submissionID: "\(submissionID)", LogKeys.logBytes: "\(tail.total)",
                    LogKeys.keptBytes: "\(configuration.maxLogBytes)",
                ])
        }
        return try tail.log()
    }

    /// Asks Ray to stop the job; `false` when it had already ended.
    public func stop(_ submissionID: String) async throws(RayError) -> Bool {
        struct Stopped: Decodable { var stopped: Bool }
        return try await fetch(Stopped.self, .POST, "/api/jobs/\(JSONHTTPClient.segment(submissionID))/stop")
            .stopped
    }

    /// Deletes an ended job's record and logs from Ray.
    public func delete(_ submissionID: String) async throws(RayError) -> Bool {
        struct Deleted: Decodable { var deleted: Bool }
        return try await fetch(Deleted.self, .DELETE, "/api/jobs/\(JSONHTTPClient.segment(submissionID))")
            .deleted
    }

    /// Uploads a local folder to the cluster's package store (once per content) and returns its
    /// `gcs://` URI, as Ray's job SDK does for a local `working_dir`.
    public func workingDirectory(for folder: URL) async throws(RayError) -> String {
        let package = RayWorkingDirectory(folder: folder)
        let name = try package.packageName()
        let path = "/api/packages/gcs/\(name)"
        do {
            _ = try await call(.GET, path)
        } catch  where error.code == .notFound {
            _ = try await call(.PUT, path, body: Array(try package.zip()), contentType: "application/zip")
            logger.info(
                "uploaded working_dir", metadata: [LogKeys.folder: "\(folder.path)", LogKeys.packageURI: "\(name)"])
        }
        return "gcs://\(name)"
    }

    // MARK: - HTTP

    private func call(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
        expect: Set<Int> = [200]
    ) async throws(RayError) -> JSONHTTPClient.Answer {
        do {
            return try await http.send(method, path, body: body, contentType: contentType, expect: expect)
        } catch {
            throw RayError(error)
        }
    }

    /// `method path`, its answer decoded as `T`.
    private func fetch<T: Decodable>(_ type: T.Type, _ method: HTTPMethod, _ path: String) async throws(RayError) -> T {
        do {
            return try http.decode(T.self, from: try await http.send(method, path))
        } catch {
            throw RayError(error)
        }
    }

    private static func isDuplicate(_ message: String) -> Bool {
        message.contains("already exists") || message.contains("Please use a different submission_id")
    }
}
