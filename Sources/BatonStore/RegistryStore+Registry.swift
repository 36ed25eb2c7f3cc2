import BatonCore
import Foundation
import PostgresNIO

extension RegistryStore {
    // MARK: - Registering

    /// Registers the artifact a `register` stage names as the model's next version and ends the
    /// attempt succeeded, in one transaction fenced by the lease epoch.
    ///
    /// The transaction upserts the model, locks its row and takes the next version (so versions
    /// are gap-free per model, however many runs register at once), records the version with the
    /// artifact the upstream stage's succeeded attempt produced and a snapshot of every upstream
    /// stage's last metric values, moves the spec's alias to it (with an audit row), and writes
    /// `model.registered`, `model.promoted` and `stage.succeeded` to the outbox.
    ///
    /// - Important: Idempotent per run and stage: an attempt that finds a version registered by an
    ///   earlier attempt of the same run's stage re-uses it, and moves no alias again.
    /// - Parameter upstreamStages: the stages upstream of the register stage, whose metrics the
    ///   version's snapshot records.
    /// - Returns: the registration, `.missingArtifact` (nothing written) or `.fencedOut`.
    public func register(
        _ claim: ClaimedAttempt, _ spec: RegisterSpec, upstreamStages: [String]
    ) async throws -> RegistrationOutcome {
        try await transaction { connection in
            let fence = try await connection.query(
                """
                SELECT 1 FROM stage_attempts
                WHERE id = \(claim.id) AND lease_epoch = \(claim.epoch) AND state = 'running' FOR UPDATE
                """, logger: logger)
            var held = false
            for try await _ in fence { held = true }
            guard held else { return .fencedOut }
            guard let artifact = try await registrableArtifact(runID: claim.runID, spec, on: connection) else {
                return .missingArtifact(
                    "stage '\(spec.stage)' has no succeeded attempt with output '\(spec.output)' in this run")
            }
            try await connection.query(
                "INSERT INTO models (name) VALUES (\(spec.model)) ON CONFLICT DO NOTHING", logger: logger)
            let lastVersion = try await lockModel(spec.model, on: connection) ?? 0
            var registration: Registration
            if let existing = try await versionOfStage(spec.model, claim: claim, on: connection) {
                registration = existing
            } else {
                let version = lastVersion + 1
                try await connection.query(
                    "UPDATE models SET last_version = \(version) WHERE name = \(spec.model)", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO model_versions (model, version, artifact_id, run_id, stage, attempt_id, metrics)
                    SELECT \(spec.model), \(version), \(artifact.id), \(claim.runID), \(claim.stage), \(claim.id),
                        coalesce((SELECT jsonb_object_agg(s.stage, s.metrics) FROM (
                            SELECT DISTINCT ON (f.stage) f.stage, f.metrics FROM attempt_facts f
                            WHERE f.run_id = \(claim.runID) AND f.stage = ANY(\(upstreamStages))
                                AND f.state = 'succeeded'
                            ORDER BY f.stage, f.attempt DESC) s
                            WHERE s.metrics <> '{}'), '{}')
                    """, logger: logger)
                let subject = "run/\(claim.runID.lowercased)/stage/\(claim.stage)"
                let move = try await moveAlias(
                    AliasMoveRequest(
                        model: spec.model, alias: spec.alias, move: .register, actor: "baton/\(claim.runID.lowercased)",
                        reason: "registered by stage \(claim.stage) of run \(claim.runID.lowercased)",
                        runID: claim.runID),
                    to: version, subject: subject, on: connection)
                let registered = ModelRegistered(
                    model: spec.model, version: version, runId: claim.runID, stage: claim.stage, attemptId: claim.id,
                    artifactUri: artifact.uri, artifactMd5: artifact.md5, alias: spec.alias)
                try await enqueueModelEvent(
                    .modelRegistered, model: spec.model, subject: subject, payload: registered, on: connection)
                registration = Registration(
                    model: spec.model, version: version, artifactURI: artifact.uri, artifactMD5: artifact.md5,
                    move: move, isNew: true)
            }
            try await connection.query(
                "UPDATE stage_attempts SET state = 'succeeded', finished_at = now() WHERE id = \(claim.id)",
                logger: logger)
            try await enqueueRunEvent(
                .stageSucceeded, runID: claim.runID, stage: claim.stage,
                payload: claim.outcome(.succeeded), on: connection)
            return .registered(registration)
        }
    }

    /// The artifact the run's latest succeeded attempt of `spec.stage` produced as `spec.output`.
    private func registrableArtifact(
        runID: UUID, _ spec: RegisterSpec, on connection: DatabaseSession
    ) async throws -> (id: Int64, uri: String, md5: String?)? {
        let rows = try await connection.query(
            """
            SELECT f.id, f.uri, f.md5 FROM stage_attempts a
            JOIN attempt_outputs o ON o.attempt_id = a.id AND o.name = \(spec.output)
            JOIN artifacts f ON f.id = o.artifact_id
            WHERE a.run_id = \(runID) AND a.stage = \(spec.stage) AND a.state = 'succeeded'
            ORDER BY a.attempt DESC LIMIT 1
            """, logger: logger)
        for try await (id, uri, md5) in rows.decode((Int64, String, String?).self) { return (id, uri, md5) }
        return nil
    }

    /// The version an earlier attempt of the claim's run and stage registered, if any.
    private func versionOfStage(
        _ model: String, claim: ClaimedAttempt, on connection: DatabaseSession
    ) async throws -> Registration? {
        let rows = try await connection.query(
            """
            SELECT v.version, f.uri, f.md5 FROM model_versions v JOIN artifacts f ON f.id = v.artifact_id
            WHERE v.model = \(model) AND v.run_id = \(claim.runID) AND v.stage = \(claim.stage)
            """, logger: logger)
        for try await (version, uri, md5) in rows.decode((Int, String, String?).self) {
            return Registration(
                model: model, version: version, artifactURI: uri, artifactMD5: md5, move: nil, isNew: false)
        }
        return nil
    }

    // MARK: - Moving aliases

    /// Points `alias` of `model` at `version`, with an audit row and a `model.promoted` event, in
    /// one transaction.
    ///
    /// - Returns: the move, or `nil` when the alias already pointed at `version` (nothing written).
    /// - Throws: ``StoreError/Code/notFound`` when the model or the version does not exist.
    public func promote(
        model: String, alias: String, to version: Int, actor: String, reason: String?
    ) async throws -> ModelPromoted? {
        try await transaction { connection in
            guard try await lockModel(model, on: connection) != nil else {
                throw StoreError.notFound("there is no registered model '\(model)'")
            }
            let rows = try await connection.query(
                "SELECT 1 FROM model_versions WHERE model = \(model) AND version = \(version)", logger: logger)
            var exists = false
            for try await _ in rows { exists = true }
            guard exists else { throw StoreError.notFound("model '\(model)' has no version \(version)") }
            return try await moveAlias(
                AliasMoveRequest(
                    model: model, alias: alias, move: .promote, actor: actor, reason: reason, runID: nil),
                to: version, subject: "model/\(model)", on: connection)
        }
    }

    /// Moves `alias` of `model` back to where it pointed before the last move not yet rolled
    /// back, or removes it when that move created it; with an audit row and a `model.promoted`
    /// event, in one transaction. Rolling back twice undoes two moves.
    ///
    /// - Returns: the move made.
    /// - Throws: ``StoreError/Code/notFound`` when the model does not exist or the alias has no
    ///   move left to roll back.
    public func rollback(model: String, alias: String, actor: String, reason: String?) async throws -> ModelPromoted {
        try await transaction { connection in
            guard try await lockModel(model, on: connection) != nil else {
                throw StoreError.notFound("there is no registered model '\(model)'")
            }
            let rows = try await connection.query(
                """
                SELECT from_version, move FROM model_alias_events
                WHERE model = \(model) AND alias = \(alias) ORDER BY id
                """, logger: logger)
            // Each move pushes where the alias pointed before it; a rollback pops one.
            var undoable: [Int?] = []
            for try await (from, move) in rows.decode((Int?, String).self) {
                if move == ModelAliasMove.rollback.rawValue {
                    _ = undoable.popLast()
                } else {
                    undoable.append(from)
                }
            }
            guard let target = undoable.last else {
                throw StoreError.notFound("alias '\(alias)' of model '\(model)' has no move left to roll back")
            }
            let request = AliasMoveRequest(
                model: model, alias: alias, move: .rollback, actor: actor, reason: reason, runID: nil)
            guard let move = try await moveAlias(request, to: target, subject: "model/\(model)", on: connection)
            else {
                throw StoreError.notFound("alias '\(alias)' of model '\(model)' already points where a rollback goes")
            }
            return move
        }
    }

    /// Who moves an alias, how and why.
    struct AliasMoveRequest {
        var model: String
        var alias: String
        var move: ModelAliasMove
        var actor: String
        var reason: String?
        var runID: UUID?
    }

    /// Moves an alias (the caller holds the model's row lock): upsert or delete the alias, the
    /// audit row, and `model.promoted` to the outbox. `nil` when the alias already points there.
    @discardableResult
    func moveAlias(
        _ request: AliasMoveRequest, to version: Int?, subject: String, on connection: DatabaseSession
    ) async throws -> ModelPromoted? {
        let rows = try await connection.query(
            "SELECT version FROM model_aliases WHERE model = \(request.model) AND alias = \(request.alias)",
            logger: logger)
        var current: Int?
        for try await version in rows.decode(Int.self) { current = version }
        guard current != version else { return nil }
        if let version {
            try await connection.query(
                """
                INSERT INTO model_aliases (model, alias, version) VALUES (\(request.model), \(request.alias), \(version))
                ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = now()
                """, logger: logger)
        } else {
            try await connection.query(
                "DELETE FROM model_aliases WHERE model = \(request.model) AND alias = \(request.alias)",
                logger: logger)
        }
        try await connection.query(
            """
            INSERT INTO model_alias_events (model, alias, from_version, to_version, actor, reason, run_id, move)
            VALUES (\(request.model), \(request.alias), \(current), \(version), \(request.actor), \(request.reason),
                    \(request.runID), \(request.move.rawValue))
            """, logger: logger)
        let promoted = ModelPromoted(
            model: request.model, alias: request.alias, fromVersion: current, toVersion: version, move: request.move,
            actor: request.actor, reason: request.reason, runId: request.runID)
        try await enqueueModelEvent(
            .modelPromoted, model: request.model, subject: subject, payload: promoted, on: connection)
        return promoted
    }

    /// Locks a model's row; its last version, or `nil` when there is no such model.
    private func lockModel(_ model: String, on connection: DatabaseSession) async throws -> Int? {
        let rows = try await connection.query(
            "SELECT last_version FROM models WHERE name = \(model) FOR UPDATE", logger: logger)
        for try await version in rows.decode(Int.self) { return version }
        return nil
    }

    /// Writes a model event to the outbox: on the run events topic, keyed by the model's name so
    /// that one model's versions and alias moves stay in order.
    func enqueueModelEvent(
        _ type: EventType, model: String, subject: String, payload: some Encodable, on connection: DatabaseSession
    ) async throws {
        let event = try CloudEvent(source: source, type: type, subject: subject, payload: payload)
        try await enqueue(event, topic: topics.runEvents, key: model, on: connection)
    }

    // MARK: - Reading

    /// Every registered model with its latest version and aliases, by name.
    public func listModels(limit: Int = 1000) async throws -> [ModelSummary] {
        let rows = try await client.statement(
            """
            SELECT m.name, m.last_version, m.created_at,
                   (SELECT max(e.moved_at) FROM model_alias_events e WHERE e.model = m.name),
                   coalesce((SELECT jsonb_object_agg(a.alias, a.version) FROM model_aliases a WHERE a.model = m.name),
                            '{}')::text
            FROM models m ORDER BY m.name LIMIT \(limit)
            """, logger: logger)
        var models: [ModelSummary] = []
        for try await (name, last, createdAt, movedAt, aliases) in rows.decode(
            (String, Int, Date, Date?, String).self)
        {
            models.append(
                ModelSummary(
                    name: name, latestVersion: last,
                    aliases: try JSONDecoder().decode([String: Int].self, from: Data(aliases.utf8)),
                    createdAt: createdAt, updatedAt: movedAt))
        }
        return models
    }

    /// A model with its versions (newest first, each with its run, artifact and metrics), its
    /// aliases and every alias move; `nil` when there is no such model.
    ///
    /// - Parameter versionLimit: the most versions and the most alias moves returned.
    public func model(_ name: String, versionLimit: Int = 100) async throws -> ModelView? {
        var view: ModelView?
        let modelRows = try await client.statement(
            """
            SELECT created_at,
                   coalesce((SELECT jsonb_object_agg(alias, version) FROM model_aliases WHERE model = \(name)),
                            '{}')::text
            FROM models WHERE name = \(name)
            """, logger: logger)
        for try await (createdAt, aliases) in modelRows.decode((Date, String).self) {
            view = ModelView(
                name: name, createdAt: createdAt,
                aliases: try JSONDecoder().decode([String: Int].self, from: Data(aliases.utf8)), versions: [],
                aliasEvents: [])
        }
        guard var view else { return nil }
        let versions = try await client.statement(
            """
            SELECT v.version, v.run_id, v.stage, v.attempt_id, f.id, f.uri, f.md5, v.metrics::text, v.created_at
            FROM model_versions v JOIN artifacts f ON f.id = v.artifact_id
            WHERE v.model = \(name) ORDER BY v.version DESC LIMIT \(versionLimit)
            """, logger: logger)
        for try await (version, runID, stage, attemptID, artifactID, uri, md5, metrics, createdAt) in versions.decode(
            (Int, UUID, String, UUID, Int64, String, String?, String, Date).self)
        {
            view.versions.append(
                ModelVersionView(
                    version: version, runId: runID.lowercased, stage: stage, attemptId: attemptID.lowercased,
                    artifactId: artifactID, artifactUri: uri, artifactMd5: md5,
                    metrics: try JSONDecoder().decode([String: [String: Double]].self, from: Data(metrics.utf8)),
                    aliases: view.aliases.filter { $0.value == version }.keys.sorted(), createdAt: createdAt))
        }
        let events = try await client.statement(
            """
            SELECT alias, from_version, to_version, move, actor, reason, run_id, moved_at FROM model_alias_events
            WHERE model = \(name) ORDER BY id DESC LIMIT \(versionLimit)
            """, logger: logger)
        for try await (alias, from, to, move, actor, reason, runID, movedAt) in events.decode(
            (String, Int?, Int?, String, String, String?, UUID?, Date).self)
        {
            view.aliasEvents.append(
                ModelAliasEvent(
                    alias: alias, fromVersion: from, toVersion: to, move: ModelAliasMove(rawValue: move) ?? .promote,
                    actor: actor, reason: reason, runId: runID?.lowercased, movedAt: movedAt))
        }
        return view
    }
}
