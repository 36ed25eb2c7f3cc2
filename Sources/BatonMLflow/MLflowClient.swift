import AsyncHTTPClient
import BatonCore
import BatonHTTPClient
import Foundation
import Logging
import NIOHTTP1

/// A client of MLflow's tracking REST API 2.0 (`/api/2.0/mlflow/...`).
///
/// Every call has a timeout (``Configuration/requestTimeout``); a refusal is an ``MLflowError``
/// carrying MLflow's `error_code` and message. Credentials are sent on every call and never
/// logged.
public struct MLflowClient: Sendable {
    /// How a client proves who it is to MLflow.
    public enum Authorization: Sendable, CustomStringConvertible {
        /// `Authorization: Bearer <token>` (what `MLFLOW_TRACKING_TOKEN` sets).
        case bearer(String)
        /// HTTP basic auth (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`).
        case basic(username: String, password: String)

        var headerValue: String {
            switch self {
            case .bearer(let token): "Bearer \(token)"
            case .basic(let username, let password):
                "Basic \(Data("\(username):\(password)".utf8).base64EncodedString())"
            }
        }

        /// Names the scheme only: a credential must never reach a log.
        public var description: String {
            switch self {
            case .bearer: "bearer <redacted>"
            case .basic(let username, _): "basic \(username):<redacted>"
            }
        }
    }

    /// Where MLflow is and how to reach it.
    public struct Configuration: Sendable {
        /// The tracking server, e.g. `http://127.0.0.1:5055`.
        public var trackingURI: String
        /// Credentials. Default: none.
        public var authorization: Authorization?
        /// The longest one call may take, answer included. Default: 30 s (a tracking server on
        /// SQLite under load can take many seconds on one large `log-batch`).
        public var requestTimeout: Duration = .seconds(30)
        /// The most bytes of an answer read. Default: 16 MiB.
        public var maxResponseBytes = 16 << 20
        /// MLflow's limits on `runs/log-batch`. Default: MLflow's own.
        public var batchLimits = MLflowBatch.Limits()

        /// A configuration for the server at `trackingURI` (a trailing `/` is dropped), with default limits.
        public init(trackingURI: String, authorization: Authorization? = nil) {
            self.trackingURI = trackingURI.hasSuffix("/") ? String(trackingURI.dropLast()) : trackingURI
            self.authorization = authorization
        }
    }

    /// Where MLflow is and how to reach it.
    public let configuration: Configuration
    private let http: JSONHTTPClient

    /// A client of the tracking server in `configuration`.
    public init(configuration: Configuration, httpClient: HTTPClient = .baton, logger: Logger) {
        self.configuration = configuration
        var endpoint = JSONHTTPClient.Configuration(service: "MLflow", baseURL: configuration.trackingURI)
        endpoint.requestTimeout = configuration.requestTimeout
        endpoint.maxResponseBytes = configuration.maxResponseBytes
        if let authorization = configuration.authorization {
            endpoint.headers.add(name: "Authorization", value: authorization.headerValue)
        }
        self.http = JSONHTTPClient(configuration: endpoint, httpClient: httpClient, logger: logger)
    }

    // MARK: - Experiments

    /// `experiments/get-by-name`; `nil` when there is no experiment of that name.
    public func experiment(named name: String) async throws(MLflowError) -> MLflowExperiment? {
        struct Answer: Decodable { var experiment: MLflowExperiment }
        do {
            let bytes = try await call(.GET, "experiments/get-by-name", query: ["experiment_name": name])
            return try decode(Answer.self, from: bytes).experiment
        } catch  where error.code == .resourceDoesNotExist {
            return nil
        }
    }

    /// `experiments/create`; returns the new experiment's id.
    ///
    /// - Throws: ``MLflowError/Code/resourceAlreadyExists`` when the name is taken.
    public func createExperiment(named name: String) async throws(MLflowError) -> String {
        struct Answer: Decodable {
            var experimentID: String
            enum CodingKeys: String, CodingKey { case experimentID = "experiment_id" }
        }
        return try decode(Answer.self, from: try await call(.POST, "experiments/create", body: ["name": name]))
            .experimentID
    }

    /// The id of experiment `name`, created if it does not exist. Safe when several clients
    /// race to create it: the loser of the race reads the winner's.
    public func ensureExperiment(named name: String) async throws(MLflowError) -> String {
        if let existing = try await experiment(named: name) { return existing.experimentID }
        do {
            return try await createExperiment(named: name)
        } catch  where error.code == .resourceAlreadyExists {
            guard let existing = try await experiment(named: name) else { throw error }
            return existing.experimentID
        }
    }

    // MARK: - Runs

    /// `runs/create`: a new run, `RUNNING`, in experiment `experimentID`. Tag values longer than
    /// MLflow's limit are cut as ``MLflowBatch`` cuts them.
    ///
    /// - Parameter startTime: milliseconds since the epoch; MLflow uses its clock when `nil`.
    public func createRun(
        experimentID: String, runName: String? = nil, startTime: Int64? = nil, tags: [MLflowTag] = []
    ) async throws(MLflowError) -> MLflowRun {
        struct Body: Encodable {
            var experimentId: String
            var runName: String?
            var startTime: Int64?
            var tags: [MLflowTag]
        }
        struct Answer: Decodable { var run: MLflowRun }
        let limit = configuration.batchLimits.tagValueLength
        let body = Body(
            experimentId: experimentID, runName: runName, startTime: startTime,
            tags: tags.map { MLflowTag(key: $0.key, value: MLflowBatch.truncated($0.value, to: limit)) })
        return try decode(Answer.self, from: try await call(.POST, "runs/create", body: body)).run
    }

    /// `runs/get`.
    ///
    /// - Throws: ``MLflowError/Code/resourceDoesNotExist`` when there is no such run.
    public func run(_ runID: String) async throws(MLflowError) -> MLflowRun {
        struct Answer: Decodable { var run: MLflowRun }
        return try decode(Answer.self, from: try await call(.GET, "runs/get", query: ["run_id": runID])).run
    }

    /// `runs/search`: the active runs of `experimentIDs` that match `filter` (MLflow's search
    /// syntax, e.g. ``tagFilter(_:equals:)``), every page of them.
    public func searchRuns(
        experimentIDs: [String], filter: String, pageSize: Int = 1000
    ) async throws(MLflowError) -> [MLflowRun] {
        struct Body: Encodable {
            var experimentIds: [String]
            var filter: String
            var maxResults: Int
            var pageToken: String?
        }
        struct Answer: Decodable {
            var runs: [MLflowRun]?
            var nextPageToken: String?
            enum CodingKeys: String, CodingKey {
                case runs
                case nextPageToken = "next_page_token"
            }
        }
        var runs: [MLflowRun] = []
        var token: String?
        repeat {
            let body = Body(experimentIds: experimentIDs, filter: filter, maxResults: pageSize, pageToken: token)
            let page = try decode(Answer.self, from: try await call(.POST, "runs/search", body: body))
            runs += page.runs ?? []
            token = page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return runs
    }

    /// A `runs/search` filter matching runs whose tag `key` is `value` (both quoted for MLflow).
    public static func tagFilter(_ key: String, equals value: String) -> String {
        let key = key.replacingOccurrences(of: "`", with: "")
        let value = value.replacingOccurrences(of: "'", with: "\\'")
        return "tags.`\(key)` = '\(value)'"
    }

    /// `runs/update`: sets the status and, for an ended run, the end time (ms since the epoch).
    public func updateRun(
        _ runID: String, status: MLflowRunStatus, endTime: Int64? = nil
    ) async throws(MLflowError) {
        struct Body: Encodable {
            var runId: String
            var status: MLflowRunStatus
            var endTime: Int64?
        }
        _ = try await call(.POST, "runs/update", body: Body(runId: runID, status: status, endTime: endTime))
    }

    /// `runs/set-tag`.
    public func setTag(_ runID: String, key: String, value: String) async throws(MLflowError) {
        let body = ["run_id": runID, "key": key, "value": value]
        _ = try await call(.POST, "runs/set-tag", body: body)
    }

    /// `runs/log-batch`, in as many requests as MLflow's limits need (see ``MLflowBatch``).
    ///
    /// Requests go one after another; when one fails, those before it have been logged.
    /// Logging the same metric points or params again is harmless.
    public func logBatch(
        _ runID: String, metrics: [MLflowMetric] = [], params: [MLflowParam] = [], tags: [MLflowTag] = []
    ) async throws(MLflowError) {
        let batch = MLflowBatch(
            runID: runID, metrics: metrics, params: params, tags: tags, limits: configuration.batchLimits)
        for body in batch.bodies {
            _ = try await call(.POST, "runs/log-batch", bytes: body)
        }
    }

    // MARK: - HTTP

    func call(
        _ method: HTTPMethod, _ endpoint: String, query: [String: String] = [:], body: some Encodable
    ) async throws(MLflowError) -> JSONHTTPClient.Answer {
        let bytes: [UInt8]
        do {
            let encoder = JSONEncoder()
            // Request bodies are MLflow's snake_case protobuf JSON.
            encoder.keyEncodingStrategy = .convertToSnakeCase
            bytes = Array(try encoder.encode(body))
        } catch {
            throw .badResponse("could not encode the \(endpoint) request: \(error)", status: nil)
        }
        return try await call(method, endpoint, query: query, bytes: bytes)
    }

    func call(
        _ method: HTTPMethod, _ endpoint: String, query: [String: String] = [:], bytes body: [UInt8]? = nil
    ) async throws(MLflowError) -> JSONHTTPClient.Answer {
        do {
            return try await http.send(
                method, "/api/2.0/mlflow/\(endpoint)", query: query, body: body, expect: Set(200..<300))
        } catch {
            throw MLflowError(error, endpoint: endpoint)
        }
    }

    func decode<T: Decodable>(_ type: T.Type, from answer: JSONHTTPClient.Answer) throws(MLflowError) -> T {
        do {
            return try http.decode(T.self, from: answer)
        } catch {
            throw MLflowError(error, endpoint: answer.path)
        }
    }
}
