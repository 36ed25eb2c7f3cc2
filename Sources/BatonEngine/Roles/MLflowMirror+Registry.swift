import BatonCore
import BatonMLflow
import BatonStore
import Foundation
import Logging
import ServiceLifecycle

/// The MLflow model registry side of the mirror: a registered model per Baton model, a model
/// version per Baton version (source, run id, tags with Baton's ids), aliases kept where Baton's
/// point (set, and deleted when a rollback removed one).
///
/// Triggers queue every change of a model (`migrations/0008_model_registry_mirror.sql`); one
/// sweep per poll brings each queued model in step and deletes what it replayed. MLflow numbers
/// versions itself: the mirror stores MLflow's number right after making a version, and a version
/// whose number was not stored yet is looked up by its `baton.version` tag before one is made,
/// so replays never duplicate a version. A version waits (queued) until the mirror has made the
/// MLflow run of its register attempt or of its run, which the same poll does first.
extension MLflowMirror {
    /// Brings the queued models in step, once each; models left incomplete stay queued, a model
    /// MLflow refuses for good is parked and the pass moves on.
    func registryPass() async throws {
        let changes = try await mirror.mlflowRegistryChanges(limit: configuration.batchSize * 20)
        for (model, changeIDs) in changes.prefix(configuration.batchSize) {
            guard !Task.isShuttingDownGracefully else { return }
            let complete: Bool
            do {
                complete = try await mirrorModel(model)
            } catch {
                guard let refusal = Self.permanentRefusal(error) else { throw error }
                try await park(.model, model, refusal)
                continue
            }
            if complete { try await mirror.deleteMLflowRegistryChanges(changeIDs) }
        }
    }

    /// Brings MLflow's registered model `name` in step; `false` when something must wait.
    private func mirrorModel(_ name: String) async throws -> Bool {
        guard let model = try await mirror.mlflowMirrorModel(name) else { return true }
        if !model.isRegistered {
            try await client.ensureRegisteredModel(
                named: name, tags: [MLflowTag(key: "baton.managed", value: "true")])
            try await mirror.recordMLflowRegisteredModel(name)
        }
        var complete = true
        var mlflowVersions: [Int: String] = [:]
        for version in model.versions {
            if let known = version.mlflowVersion {
                mlflowVersions[version.version] = known
            } else if complete, let made = try await mirrorVersion(version, of: name) {
                mlflowVersions[version.version] = made
            } else {
                // Versions are made in order, so MLflow's numbers follow Baton's.
                complete = false
            }
        }
        for (alias, version) in model.aliases.sorted(by: { $0.key < $1.key })
        where model.mirroredAliases[alias] != version {
            guard let target = mlflowVersions[version] else {
                complete = false
                continue
            }
            try await client.setRegisteredModelAlias(name: name, alias: alias, version: target)
            try await mirror.recordMLflowModelAlias(name, alias: alias, version: version)
        }
        for alias in model.mirroredAliases.keys.sorted() where model.aliases[alias] == nil {
            try await client.deleteRegisteredModelAlias(name: name, alias: alias)
            try await mirror.recordMLflowModelAlias(name, alias: alias, version: nil)
        }
        if complete {
            logger.debug(
                "mirrored model", metadata: [LogKeys.model: "\(name)", LogKeys.versions: "\(model.versions.count)"])
        }
        return complete
    }

    /// Makes (or finds) MLflow's version of one Baton version; `nil` while its run is not mirrored.
    private func mirrorVersion(_ version: MLflowMirrorModel.Version, of name: String) async throws -> String? {
        let filter = MLflowClient.versionFilter(model: name, tag: ("baton.version", "\(version.version)"))
        let mlflowVersion: String
        if let existing = try await client.searchModelVersions(filter: filter).first {
            mlflowVersion = existing.version
        } else {
            guard let runID = version.mlflowRunID else { return nil }
            var tags = [
                MLflowTag(key: "baton.version", value: "\(version.version)"),
                MLflowTag(key: "baton.run_id", value: version.runID.lowercased),
                MLflowTag(key: "baton.attempt_id", value: version.attemptID.lowercased),
                MLflowTag(key: "baton.stage", value: version.stage),
                MLflowTag(key: "baton.artifact_uri", value: version.artifactURI),
            ]
            if let md5 = version.artifactMD5 { tags.append(MLflowTag(key: "baton.artifact_md5", value: md5)) }
            let made = try await client.createModelVersion(
                name: name, source: Self.source(of: version.artifactURI, mlflowRunID: runID), runID: runID,
                tags: tags, description: "Baton version \(version.version) of run \(version.runID.lowercased)")
            mlflowVersion = made.version
        }
        try await mirror.recordMLflowModelVersion(name, version: version.version, mlflowVersion: mlflowVersion)
        return mlflowVersion
    }

    /// The version's `source`: the artifact's URI, except for a local path, which MLflow accepts
    /// only inside the run's own artifact folder; a local artifact is named through the run
    /// (`runs:/<run>/baton-artifact`), its real URI in the `baton.artifact_uri` tag.
    static func source(of artifactURI: String, mlflowRunID: String) -> String {
        let isLocal = artifactURI.hasPrefix("file:") || !artifactURI.contains("://")
        return isLocal ? "runs:/\(mlflowRunID)/baton-artifact" : artifactURI
    }
}
