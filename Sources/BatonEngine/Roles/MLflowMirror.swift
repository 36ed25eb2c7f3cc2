import BatonCore
import BatonMLflow
import BatonStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The mirror role: brings an MLflow tracking server in step with PostgreSQL, the source of truth.
///
/// An experiment per pipeline (`<prefix><pipeline>`), a parent MLflow run per Baton run, a
/// nested run per stage attempt (`mlflow.parentRunId`), tags carrying Baton's ids, params and
/// metric points through `runs/log-batch`, outputs as tags, statuses and times kept in step.
///
/// Triggers queue every change of a run in PostgreSQL (`migrations/0005_mlflow_mirror.sql`); the
/// mirror polls the queue, replays the run into MLflow and deletes what it replayed. A run or
/// attempt is marked in PostgreSQL before its MLflow run is made and MLflow's id is stored as
/// soon as MLflow answers; one still marked without an id (a crash or a failed call between the
/// two) is looked up by its Baton tag before one is made, so restarts and replays never
/// duplicate a run, and the usual create needs no lookup. An attempt ended when first mirrored
/// costs two calls (its run made with every tag, then ended); ``Configuration/runConcurrency``
/// runs are mirrored at once, the attempts of each ``Configuration/concurrency`` at a time.
/// MLflow being down or failing never touches a pipeline: changes stay queued, the mirror says
/// so once in the log and in `baton_mlflow_mirror_failures_total`, and catches up when MLflow
/// answers again. A run or model MLflow refuses for good (a 4xx) is parked
/// (`mlflow_mirror_parked`, `baton mirror failed`) so it never blocks the ones behind it, until
/// `baton mirror retry` queues it again. One mirror at a time works (a lease in PostgreSQL).
public struct MLflowMirror: Service {
    /// How the mirror works.
    public struct Configuration: Sendable {
        /// The MLflow server.
        public var client: MLflowClient.Configuration
        /// How often the queue is polled. Default: 2 s.
        public var pollInterval: Duration = .seconds(2)
        /// The longest wait between tries while MLflow fails. Default: 30 s.
        public var maxRetryInterval: Duration = .seconds(30)
        /// Experiment names are this prefix and the pipeline's name. Default: `baton/`.
        public var experimentPrefix = "baton/"
        /// Runs replayed per poll. Default: 50.
        public var batchSize = 50
        /// Metric points read per attempt per poll; more are sent on the next. Default: 20 000.
        public var metricsPerPoll = 20_000
        /// The attempts of one run mirrored at once (MLflow calls in flight per run). Default: 8.
        public var concurrency = 8
        /// The runs mirrored at once: a run's own calls (its MLflow run made before its
        /// attempts', ended after them) and the PostgreSQL writes between them leave MLflow idle
        /// unless other runs' calls fill the gaps. At most `runConcurrency` x ``concurrency``
        /// calls are in flight. Default: 4.
        public var runConcurrency = 4
        /// How long the mirror's lease lasts without renewal. Default: 15 s.
        public var leaseDuration: Duration = .seconds(15)
        /// This mirror's name in the lease. Default: `<host>-<pid>`.
        public var instanceID = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"

        /// Settings for mirroring into the MLflow server `client` names.
        public init(client: MLflowClient.Configuration) {
            self.client = client
        }
    }

    let configuration: Configuration
    let client: MLflowClient
    let mirror: MirrorStore
    let logger: Logger

    /// Creates the mirror; it talks to MLflow only once it runs.
    public init(configuration: Configuration, mirror: MirrorStore, logger: Logger) {
        var logger = logger
        logger[metadataKey: LogKeys.role] = "mirror"
        self.configuration = configuration
        self.client = MLflowClient(configuration: configuration.client, logger: logger)
        self.mirror = mirror
        self.logger = logger
    }

    /// Mirrors while it holds the mirror lease, until graceful shutdown.
    public func run() async throws {
        var failures = 0
        var enabled = false
        let experiments = ExperimentIDs()
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                if !enabled {
                    if try await mirror.enableMLflowMirror() {
                        logger.info("mlflow mirror switched on: queued every existing run")
                    }
                    enabled = true
                }
                if try await mirror.leaseMLflowMirror(owner: configuration.instanceID, for: configuration.leaseDuration)
                {
                    // The registry is mirrored even while runs fail: a run MLflow cannot take now
                    // must not hold up alias moves (and the other way round).
                    var failure: (any Error)?
                    do { try await pass(experiments: experiments) } catch { failure = error }
                    do { try await registryPass() } catch { failure = failure ?? error }
                    if let failure { throw failure }
                }
                if failures > 0 {
                    logger.notice(
                        "mlflow mirror caught up with MLflow again", metadata: [LogKeys.failedPolls: "\(failures)"])
                }
                failures = 0
            } catch {
                failures += 1
                EngineMetrics.mlflowMirrorFailed()
                let next = retryInterval(failures: failures)
                let metadata: Logger.Metadata = [LogKeys.error: "\(error)", LogKeys.retryIn: "\(next)"]
                // One line per outage, not one per poll.
                if failures == 1 {
                    logger.warning(
                        "mlflow mirror failed; runs stay queued in PostgreSQL, will retry", metadata: metadata)
                } else {
                    logger.debug("mlflow mirror failed again", metadata: metadata)
                }
            }
            if let backlog = try? await mirror.mlflowMirrorBacklog() {
                EngineMetrics.mlflowMirrorBehind(backlog)
            }
            if let parked = try? await mirror.mlflowMirrorParkedCounts() {
                for (kind, count) in parked { EngineMetrics.mlflowMirrorParked(kind: kind.rawValue, count: count) }
            }
            let wait = failures == 0 ? configuration.pollInterval : retryInterval(failures: failures)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
        try? await mirror.releaseMLflowMirror(owner: configuration.instanceID)
    }

    private func retryInterval(failures: Int) -> Duration {
        min(configuration.pollInterval * (1 << min(failures, 10)), configuration.maxRetryInterval)
    }

    /// Replays the runs with queued changes, oldest first and ``Configuration/runConcurrency`` at
    /// once, until the queue is empty, the service is stopping, the lease is lost, or MLflow fails
    /// for now (the runs in flight are then cancelled; their changes stay queued). A run MLflow
    /// refuses for good is parked and the pass moves on to the next. The lease is renewed as the
    /// pass goes (every third of its duration), so a long catch-up never lets a second mirror in.
    private func pass(experiments: ExperimentIDs) async throws {
        var renewed = ContinuousClock.now
        while !Task.isShuttingDownGracefully {
            let changes = try await mirror.mlflowMirrorChanges(limit: configuration.batchSize * 20)
            guard !changes.isEmpty else { return }
            let leased = try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for (runID, changeIDs) in changes.prefix(configuration.batchSize) {
                    guard !Task.isShuttingDownGracefully else { break }
                    if inFlight >= configuration.runConcurrency {
                        try await group.next()
                        inFlight -= 1
                    }
                    if ContinuousClock.now - renewed > configuration.leaseDuration / 3 {
                        guard
                            try await mirror.leaseMLflowMirror(
                                owner: configuration.instanceID, for: configuration.leaseDuration)
                        else { return false }
                        renewed = ContinuousClock.now
                    }
                    group.addTask { try await mirrorQueued(runID, changeIDs: changeIDs, experiments: experiments) }
                    inFlight += 1
                }
                try await group.waitForAll()
                return true
            }
            guard leased else { return }
        }
    }

    /// Replays run `runID` and deletes its replayed changes (`changeIDs`); changes made meanwhile
    /// have their own rows and stay queued. A run MLflow refuses for good is parked instead.
    private func mirrorQueued(_ runID: UUID, changeIDs: [Int64], experiments: ExperimentIDs) async throws {
        let complete: Bool
        do {
            complete = try await mirror(runID, experiments: experiments)
        } catch {
            guard let refusal = Self.permanentRefusal(error) else { throw error }
            try await park(.run, runID.lowercased, refusal)
            return
        }
        if complete { try await mirror.deleteMLflowMirrorChanges(changeIDs) }
    }

    // MARK: - Parking

    /// The MLflow error when MLflow refused for good (a 4xx other than 429: an invalid key, a run
    /// or experiment deleted in MLflow); `nil` for anything that may pass later (MLflow down,
    /// overloaded, failing, PostgreSQL errors) and for refusals of the mirror's own credentials,
    /// which would refuse every run alike.
    static func permanentRefusal(_ error: any Error) -> MLflowError? {
        guard let error = error as? MLflowError, !error.isRetriable, let status = error.status,
            (400..<500).contains(status),
            error.code != .unauthenticated, error.code != .permissionDenied, error.status != 401,
            error.status != 403
        else { return nil }
        return error
    }

    /// Sets a run or model aside until `baton mirror retry`, saying so in the log and the metrics.
    func park(_ kind: MLflowMirrorParked.Kind, _ subject: String, _ refusal: MLflowError) async throws {
        try await mirror.parkMLflowMirror(
            kind, subject: subject, error: refusal.description, errorCode: refusal.code.rawValue)
        EngineMetrics.mlflowMirrorParking(kind: kind.rawValue)
        logger.warning(
            "mlflow refused a \(kind.rawValue) for good; parked it, the mirror moves on (see baton mirror failed)",
            metadata: [LogKeys.subject: "\(subject)", LogKeys.error: "\(refusal)"])
    }

    // MARK: - One run

    /// Brings the MLflow runs of Baton run `runID` in step; `false` when metric points are left
    /// for the next poll.
    private func mirror(_ runID: UUID, experiments: ExperimentIDs) async throws -> Bool {
        guard let run = try await mirror.mlflowMirrorRun(runID, metricLimit: configuration.metricsPerPoll) else {
            return true  // deleted
        }
        let unmade = (run.mirrored == nil ? [run.id] : []) + run.attempts.filter { $0.mirrored == nil }.map(\.id)
        let uncertain = unmade.isEmpty ? [] : try await mirror.markMLflowCreating(unmade)
        let parent: MLflowMirrorRun.Mirrored
        if let mirrored = run.mirrored {
            parent = mirrored
        } else {
            let experimentID = try await experiment(for: run.pipelineName, cache: experiments)
            parent = try await makeParent(run, experimentID: experimentID, lookUp: uncertain.contains(run.id))
        }
        if !parent.paramsLogged, !run.params.isEmpty {
            try await client.logBatch(
                parent.mlflowRunID, params: run.params.map { MLflowParam(key: $0.key, value: $0.value) })
            try await mirror.updateMLflowRun(runID, status: parent.status, paramsLogged: true)
        }
        let complete = try await mirror(run.attempts, of: run, parent: parent, uncertain: uncertain)
        let status = Self.status(ofRun: run.state)
        if status.rawValue != parent.status {
            try await client.updateRun(
                parent.mlflowRunID, status: status, endTime: status.isTerminal ? run.finishedAt.map(Self.millis) : nil)
            try await mirror.updateMLflowRun(runID, status: status.rawValue, paramsLogged: true)
            logger.debug(
                "mirrored run", metadata: [LogKeys.runID: "\(runID)", LogKeys.mlflowRunID: "\(parent.mlflowRunID)"])
        }
        return complete
    }

    private func experiment(for pipeline: String, cache: ExperimentIDs) async throws -> String {
        let name = configuration.experimentPrefix + pipeline
        if let id = cache[name] { return id }
        let id: String
        if let stored = try await mirror.mlflowExperimentID(name) {
            id = stored
        } else {
            // Two runs of a new pipeline may both get here: ensureExperiment finds the one the
            // other made, and the record is an upsert.
            id = try await client.ensureExperiment(named: name)
            try await mirror.recordMLflowExperiment(name, id: id)
        }
        cache[name] = id
        return id
    }

    /// The parent MLflow run: with `lookUp` (an earlier try may have made it), found by its Baton
    /// tag if it exists; else made now.
    private func makeParent(
        _ run: MLflowMirrorRun, experimentID: String, lookUp: Bool
    ) async throws -> MLflowMirrorRun.Mirrored {
        let filter =
            MLflowClient.tagFilter("baton.run_id", equals: run.id.lowercased) + " and "
            + MLflowClient.tagFilter("baton.kind", equals: "run")
        let existing = lookUp ? try await client.searchRuns(experimentIDs: [experimentID], filter: filter).first : nil
        let made: MLflowRun
        if let existing {
            made = existing
        } else {
            made = try await client.createRun(
                experimentID: experimentID, runName: "\(run.pipelineName)-\(run.id.lowercased.prefix(8))",
                startTime: Self.millis(run.createdAt),
                tags: [
                    MLflowTag(key: "baton.kind", value: "run"),
                    MLflowTag(key: "baton.run_id", value: run.id.lowercased),
                    MLflowTag(key: "baton.pipeline", value: run.pipelineName),
                ])
        }
        // A run made now is RUNNING; one found may have been told more since.
        let status = existing == nil ? MLflowRunStatus.running.rawValue : nil
        try await mirror.recordMLflowRun(
            run.id, experimentID: experimentID, mlflowRunID: made.info.runID, status: status)
        return .init(experimentID: experimentID, mlflowRunID: made.info.runID, status: status, paramsLogged: false)
    }

    /// Brings the nested MLflow runs of `attempts` in step, ``Configuration/concurrency`` at a
    /// time; `false` when metric points are left for the next poll.
    private func mirror(
        _ attempts: [MLflowMirrorRun.Attempt], of run: MLflowMirrorRun, parent: MLflowMirrorRun.Mirrored,
        uncertain: Set<UUID>
    ) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            var complete = true
            for (index, attempt) in attempts.enumerated() {
                if index >= configuration.concurrency, let done = try await group.next() { complete = done && complete }
                group.addTask {
                    try await mirror(attempt, of: run, parent: parent, lookUp: uncertain.contains(attempt.id))
                }
            }
            for try await done in group { complete = done && complete }
            return complete
        }
    }

    /// Brings the nested MLflow run of one attempt in step: at most one `log-batch` (params,
    /// output and state tags, metric points) and one update; `false` when metric points are left.
    private func mirror(
        _ attempt: MLflowMirrorRun.Attempt, of run: MLflowMirrorRun, parent: MLflowMirrorRun.Mirrored, lookUp: Bool
    ) async throws -> Bool {
        let status = Self.status(ofAttempt: attempt.state)
        let mirrored: MLflowMirrorRun.MirroredAttempt
        // Made now, the MLflow run may have got the output tags and, if ended, the state tags.
        var tagged = false
        if let existing = attempt.mirrored {
            mirrored = existing
        } else {
            (mirrored, tagged) = try await makeChild(attempt, of: run, parent: parent, lookUp: lookUp)
        }
        let runID = mirrored.mlflowRunID
        var params: [MLflowParam] = []
        var tags: [MLflowTag] = []
        if attempt.params.count > mirrored.paramsLogged {
            params = attempt.params.map { MLflowParam(key: $0.key, value: $0.value) }
        }
        if attempt.outputs.count > mirrored.outputsLogged, !tagged { tags += Self.outputTags(attempt) }
        if status.rawValue != mirrored.status, status.isTerminal, !tagged { tags += Self.stateTags(attempt) }
        let metrics = attempt.pendingMetrics.map {
            MLflowMetric(key: $0.key, value: $0.value, timestamp: Self.millis($0.recordedAt), step: $0.step)
        }
        if !params.isEmpty || !tags.isEmpty || !metrics.isEmpty {
            try await client.logBatch(runID, metrics: metrics, params: params, tags: tags)
        }
        if !attempt.pendingMetrics.isEmpty {
            try await mirror.deleteMLflowPendingMetrics(attempt.pendingMetrics.map(\.id))
        }
        if status.rawValue != mirrored.status {
            try await client.updateRun(
                runID, status: status, endTime: status.isTerminal ? attempt.finishedAt.map(Self.millis) : nil)
        }
        let paramsLogged = max(mirrored.paramsLogged, attempt.params.count)
        let outputsLogged = max(mirrored.outputsLogged, attempt.outputs.count)
        if status.rawValue != mirrored.status || paramsLogged != mirrored.paramsLogged
            || outputsLogged != mirrored.outputsLogged
        {
            try await mirror.updateMLflowAttempt(
                attempt.id, status: status.rawValue, paramsLogged: paramsLogged, outputsLogged: outputsLogged)
        }
        return attempt.pendingMetrics.count < configuration.metricsPerPoll
    }

    /// The nested MLflow run of an attempt: with `lookUp` (an earlier try may have made it), found
    /// by its Baton tag if it exists; else made now, with the output tags and, if the attempt
    /// ended, its state tags (`tagged`: unless there are more than one request takes).
    private func makeChild(
        _ attempt: MLflowMirrorRun.Attempt, of run: MLflowMirrorRun, parent: MLflowMirrorRun.Mirrored, lookUp: Bool
    ) async throws -> (MLflowMirrorRun.MirroredAttempt, tagged: Bool) {
        let filter = MLflowClient.tagFilter("baton.attempt_id", equals: attempt.id.lowercased)
        if lookUp,
            let existing = try await client.searchRuns(experimentIDs: [parent.experimentID], filter: filter).first
        {
            try await mirror.recordMLflowAttempt(attempt.id, mlflowRunID: existing.info.runID, status: nil)
            return (.init(mlflowRunID: existing.info.runID, status: nil, paramsLogged: 0, outputsLogged: 0), false)
        }
        var tags = [
            MLflowTag(key: "mlflow.parentRunId", value: parent.mlflowRunID),
            MLflowTag(key: "baton.kind", value: "attempt"),
            MLflowTag(key: "baton.run_id", value: run.id.lowercased),
            MLflowTag(key: "baton.attempt_id", value: attempt.id.lowercased),
            MLflowTag(key: "baton.stage", value: attempt.stage),
            MLflowTag(key: "baton.attempt", value: "\(attempt.attempt)"),
            MLflowTag(key: "baton.stage_kind", value: attempt.kind),
            MLflowTag(key: "baton.pool", value: attempt.pool),
            MLflowTag(key: "baton.pipeline", value: run.pipelineName),
        ]
        if let cachedFrom = attempt.cachedFrom {
            tags.append(MLflowTag(key: "baton.cached_from", value: cachedFrom.lowercased))
        }
        let more = Self.outputTags(attempt) + (attempt.state.isTerminal ? Self.stateTags(attempt) : [])
        // As many tags as one log-batch takes; past that, the log-batch splits them.
        let tagged = tags.count + more.count <= configuration.client.batchLimits.tags
        if tagged { tags += more }
        let made = try await client.createRun(
            experimentID: parent.experimentID, runName: "\(attempt.stage)-\(attempt.attempt)",
            startTime: Self.millis(attempt.startedAt ?? attempt.queuedAt), tags: tags)
        let status = MLflowRunStatus.running.rawValue
        try await mirror.recordMLflowAttempt(attempt.id, mlflowRunID: made.info.runID, status: status)
        return (.init(mlflowRunID: made.info.runID, status: status, paramsLogged: 0, outputsLogged: 0), tagged)
    }

    /// An attempt's outputs as tags: `baton.output.<name>.uri` and `.md5`.
    static func outputTags(_ attempt: MLflowMirrorRun.Attempt) -> [MLflowTag] {
        attempt.outputs.flatMap { output in
            [MLflowTag(key: "baton.output.\(output.name).uri", value: output.uri)]
                + (output.md5.map { [MLflowTag(key: "baton.output.\(output.name).md5", value: $0)] } ?? [])
        }
    }

    /// An ended attempt's state and error as tags.
    static func stateTags(_ attempt: MLflowMirrorRun.Attempt) -> [MLflowTag] {
        [MLflowTag(key: "baton.state", value: attempt.state.rawValue)]
            + (attempt.error.map { [MLflowTag(key: "baton.error", value: $0)] } ?? [])
    }

    // MARK: - Mapping

    static func status(ofRun state: RunState) -> MLflowRunStatus {
        switch state {
        case .running: .running
        case .succeeded: .finished
        case .failed: .failed
        case .cancelled, .rejectedByGate: .killed
        }
    }

    static func status(ofAttempt state: AttemptState) -> MLflowRunStatus {
        switch state {
        case .queued: .scheduled
        case .running: .running
        case .succeeded, .rejected: .finished
        case .failed: .failed
        case .cancelled, .timedOut, .lost: .killed
        }
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}

/// The MLflow experiment ids the mirror has looked up, by experiment name, shared by the runs it
/// mirrors at once.
final class ExperimentIDs: Sendable {
    private let ids = Mutex<[String: String]>([:])

    subscript(name: String) -> String? {
        get { ids.withLock { $0[name] } }
        set { ids.withLock { $0[name] = newValue } }
    }
}
