import BatonCore
import Foundation
import NIOHTTP1

extension MLflowClient {
    // MARK: - Registered models

    /// `registered-models/get`; `nil` when there is no registered model of that name.
    public func registeredModel(named name: String) async throws(MLflowError) -> MLflowRegisteredModel? {
        struct Answer: Decodable {
            var registeredModel: MLflowRegisteredModel
            enum CodingKeys: String, CodingKey { case registeredModel = "registered_model" }
        }
        do {
            let bytes = try await call(.GET, "registered-models/get", query: ["name": name])
            return try decode(Answer.self, from: bytes).registeredModel
        } catch  where error.code == .resourceDoesNotExist {
            return nil
        }
    }

    /// `registered-models/create`; a model that already exists is left as it is (MLflow's
    /// `RESOURCE_ALREADY_EXISTS`), so the call is idempotent.
    public func ensureRegisteredModel(named name: String, tags: [MLflowTag] = []) async throws(MLflowError) {
        struct Body: Encodable {
            var name: String
            var tags: [MLflowTag]
        }
        do {
            _ = try await call(.POST, "registered-models/create", body: Body(name: name, tags: tags))
        } catch  where error.code == .resourceAlreadyExists {
            return
        }
    }

    // MARK: - Versions

    /// `model-versions/create`: MLflow numbers the new version itself.
    ///
    /// - Parameters:
    ///   - source: where the model is. MLflow accepts a local path only inside the artifact folder
    ///     of the run `runID` names; other URIs (`s3://`, `gs://`, `runs:/<runID>/...`) as they are.
    ///   - runID: the MLflow run that produced it.
    public func createModelVersion(
        name: String, source: String, runID: String?, tags: [MLflowTag] = [], description: String? = nil
    ) async throws(MLflowError) -> MLflowModelVersion {
        struct Body: Encodable {
            var name: String
            var source: String
            var runId: String?
            var tags: [MLflowTag]
            var description: String?
        }
        struct Answer: Decodable {
            var modelVersion: MLflowModelVersion
            enum CodingKeys: String, CodingKey { case modelVersion = "model_version" }
        }
        let body = Body(name: name, source: source, runId: runID, tags: tags, description: description)
        return try decode(Answer.self, from: try await call(.POST, "model-versions/create", body: body)).modelVersion
    }

    /// `model-versions/search`: the versions matching `filter` (MLflow's syntax, e.g.
    /// `name = 'm' and tags.\`baton.version\` = '3'`), every page of them.
    public func searchModelVersions(filter: String, pageSize: Int = 1000) async throws(MLflowError)
        -> [MLflowModelVersion]
    {
        struct Answer: Decodable {
            var modelVersions: [MLflowModelVersion]?
            var nextPageToken: String?
            enum CodingKeys: String, CodingKey {
                case modelVersions = "model_versions"
                case nextPageToken = "next_page_token"
            }
        }
        var versions: [MLflowModelVersion] = []
        var token: String?
        repeat {
            var query = ["filter": filter, "max_results": "\(pageSize)"]
            if let token { query["page_token"] = token }
            let page = try decode(Answer.self, from: try await call(.GET, "model-versions/search", query: query))
            versions += page.modelVersions ?? []
            token = page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return versions
    }

    /// A `model-versions/search` filter: the versions of model `name`, optionally with tag `key`
    /// equal to `value` (quoted for MLflow).
    public static func versionFilter(model name: String, tag: (key: String, value: String)? = nil) -> String {
        let model = "name = '\(name.replacingOccurrences(of: "'", with: "\\'"))'"
        return tag.map { model + " and " + tagFilter($0.key, equals: $0.value) } ?? model
    }

    // MARK: - Aliases

    /// `registered-models/alias` (POST): points `alias` at MLflow version `version`.
    public func setRegisteredModelAlias(name: String, alias: String, version: String) async throws(MLflowError) {
        let body = ["name": name, "alias": alias, "version": version]
        _ = try await call(.POST, "registered-models/alias", body: body)
    }

    /// `registered-models/alias` (DELETE): removes `alias`; an alias that is not there is fine.
    public func deleteRegisteredModelAlias(name: String, alias: String) async throws(MLflowError) {
        do {
            _ = try await call(.DELETE, "registered-models/alias", body: ["name": name, "alias": alias])
        } catch  where error.code == .resourceDoesNotExist {
            return
        }
    }
}
