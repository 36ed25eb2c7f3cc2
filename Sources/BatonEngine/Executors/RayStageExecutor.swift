import BatonCore
import BatonRay
import BatonStore
import Foundation
import Logging

/// Runs `ray` stages: submits one Ray job per attempt and follows it to its end.
///
/// The submission id is the attempt id, so however often a submission is retried (a
/// redelivered event, a crash between submit and commit, an adopting watcher) Ray runs one job.
/// Every write is fenced by the lease epoch; a watcher that lost its lease stops writing and, if
/// the attempt was cancelled or timed out, stops the job.
struct RayStageExecutor: StageExecutor {
    let attempts: AttemptStore
    let ray: any RayJobLauncher
    let configuration: EngineConfiguration
    let logger: Logger
    private let serverVersion = RayServerVersionCache()
    private let cache: StageCache
    private let leases: LeaseKeeper
    /// Where local code and inputs may be read from, the roots' links resolved once.
    private let paths: LocalPaths

    init(attempts: AttemptStore, ray: any RayJobLauncher, configuration: EngineConfiguration, logger: Logger) {
        self.attempts = attempts
        self.ray = ray
        self.configuration = configuration
        self.logger = logger
        self.cache = StageCache(attempts: attempts, presence: configuration.artifactPresence)
        self.leases = LeaseKeeper(attempts: attempts, lease: configuration.leaseDuration, logger: logger)
        self.paths = LocalPaths(policy: configuration.pathPolicy, artifactRoot: configuration.artifactRoot)
    }

    // MARK: - StageExecutor

    /// Submits the attempt's job before the `stage.ready` offset is committed (see ``submit(_:stage:)``);
    /// a job Ray refuses for good fails the attempt.
    ///
    /// Other failures (Ray unreachable) leave the attempt running: its lease runs out and a
    /// watcher adopts it and submits again under the same submission id.
    func prepare(_ claim: ClaimedAttempt, stage: StageSpec) async throws -> ClaimedAttempt? {
        do {
            return try await submit(claim, stage: stage)
        } catch let error as RayError where !error.isRetriable {
            _ = try await attempts.finishAttempt(
                claim, state: .failed, error: "Ray refused the job: \(error.reason)", errorType: "submit_rejected")
            return nil
        }
    }

    /// Follows the submitted job to its end (see ``watch(_:stage:)``).
    func execute(_ claim: ClaimedAttempt, stage: StageSpec, in pipeline: PipelineSpec) async throws -> StageOutcome? {
        await watch(claim, stage: stage)
    }

    // MARK: - Submit

    /// Serves the attempt from the cache, or records its launch and submits its job
    /// (idempotent) and the submission.
    ///
    /// - Returns: the claim with its submission id; `nil` when there is nothing to watch (a
    ///   cache hit) or the lease was lost.
    func submit(_ claim: ClaimedAttempt, stage: StageSpec) async throws -> ClaimedAttempt? {
        guard let spec = stage.ray else { throw RayStageError("stage \(stage.name) has no ray settings") }
        let submissionID = claim.id.lowercased
        let params = stage.jobParams(run: claim.params)
        var inputs = try await attempts.resolveInputs(stage, runID: claim.runID, params: claim.params)
        var runtimeEnv = spec.runtimeEnv
        var folder: URL?
        var code: String?
        if case .string(let directory) = runtimeEnv["working_dir"] {
            do throws(PathRefusal) {
                // A local folder (inside the jobs root): packaged and uploaded, as Ray's SDK does.
                folder = try paths.workingDirectory(directory)
            } catch {
                try await attempts.finishCounted(
                    claim, state: .failed, error: "path policy: \(error.reason)", errorType: "path_refused")
                return nil
            }
            code = try folder.map { "sha256:" + (try RayWorkingDirectory(folder: $0).digest()) } ?? directory
        }
        for index in inputs.indices where inputs[index].md5 == nil {
            // A dataset named by a param, or an upstream output reported without an md5: hashed
            // here when it is local and inside the roots, so lineage and the cache know its
            // content and not just its name.
            inputs[index].md5 = paths.hashable(inputs[index].uri, workingDirectory: folder).flatMap(DVCHash.of)
        }
        let launch = AttemptLaunch(
            fingerprint: StageFingerprint(
                entrypoint: spec.entrypoint, code: code, runtimeEnv: spec.runtimeEnv, params: params,
                inputs: Dictionary(uniqueKeysWithValues: inputs.map { ($0.name, $0.md5 ?? $0.uri) }),
                outputs: stage.outputs),
            inputs: inputs, cpus: spec.resources.cpus ?? 0, gpus: spec.resources.gpus ?? 0)
        switch try await cache.decide(claim, stage: stage, fingerprint: launch.fingerprint) {
        case .hit(let source, let reason):
            if try await attempts.finishFromCache(claim, launch, source: source, cacheDecision: "hit: \(reason)") {
                EngineMetrics.attemptCached(claim, source: source)
                logger.info(
                    "stage served from the cache",
                    metadata: [
                        LogKeys.attemptID: "\(submissionID)", LogKeys.stage: "\(claim.stage)",
                        LogKeys.cachedFrom: "\(source.attemptID.lowercased)",
                    ])
            }
            return nil
        case .miss(let reason):
            guard try await attempts.recordLaunch(claim, launch, cacheDecision: "miss: \(reason)") else { return nil }
        }
        let contract = JobContract(
            runID: claim.runID.lowercased, stage: claim.stage, attemptID: submissionID, params: params,
            inputs: Dictionary(
                uniqueKeysWithValues: inputs.map {
                    ($0.name, JSONValue.object(["uri": .string($0.uri), "md5": $0.md5.map(JSONValue.string) ?? .null]))
                }),
            outputURI: "\(configuration.artifactRoot)/\(claim.runID.lowercased)/\(claim.stage)/\(claim.attempt)")
        var environment: [String: JSONValue] = [:]
        if case .object(let declared) = runtimeEnv["env_vars"] { environment = declared }
        for (key, value) in try contract.environment() { environment[key] = .string(value) }
        environment["TRACEPARENT"] = .string(
            RunTrace.currentTraceparent(runID: claim.runID)
                ?? RunTrace.traceparent(runID: claim.runID, span: submissionID))
        runtimeEnv["env_vars"] = .object(environment)
        if let folder {
            runtimeEnv["working_dir"] = .string(try await ray.workingDirectory(for: folder))
        }
        let submission = RayJobSubmission(
            entrypoint: spec.entrypoint, submissionID: submissionID, runtimeEnv: runtimeEnv,
            metadata: [
                "baton_run_id": contract.runID, "baton_stage": claim.stage, "baton_attempt": "\(claim.attempt)",
            ],
            entrypointNumCPUs: spec.resources.cpus, entrypointNumGPUs: spec.resources.gpus,
            entrypointMemory: spec.resources.memory, entrypointResources: spec.resources.custom)
        let started = ContinuousClock.now
        let job = try await ray.submit(submission, server: try await serverVersion.version(from: ray))
        EngineMetrics.raySubmitted(seconds: (ContinuousClock.now - started).secondsDouble)
        guard try await attempts.recordRaySubmission(claim, submissionID: submissionID) else { return nil }
        logger.info(
            "ray job submitted",
            metadata: [
                LogKeys.attemptID: "\(submissionID)", LogKeys.stage: "\(claim.stage)",
                LogKeys.rayStatus: "\(job.status)",
            ])
        var submitted = claim
        submitted.raySubmissionID = submissionID
        return submitted
    }

    // MARK: - Watch

    /// Follows the job to its end, keeping the lease; records the outcome, or stops the job
    /// when the attempt ran out of time or was cancelled.
    ///
    /// - Returns: the outcome recorded; `nil` when this watch recorded none.
    @discardableResult
    func watch(_ claim: ClaimedAttempt, stage: StageSpec) async -> StageOutcome? {
        var claim = claim
        do {
            if claim.raySubmissionID == nil {
                // Adopted before the submission was recorded: submitting again is safe (same id).
                guard let submitted = try await submit(claim, stage: stage) else { return nil }
                claim = submitted
            }
            let watched = claim
            do {
                // Reading and parsing a log of many MiB must not let the lease lapse either, or an
                // adopting watcher would fence the outcome out and read the log again, and again.
                return try await leases.run(watched) { try await follow(watched, stage: stage) }
            } catch is LeaseKeeper.LeaseLost {
                try await leaseLost(watched, submissionID: watched.raySubmissionID ?? watched.id.lowercased)
            }
        } catch {
            // The lease runs out and a watcher adopts the attempt.
            logger.error(
                "watching ray job failed",
                metadata: [LogKeys.attemptID: "\(claim.id.lowercased)", LogKeys.error: "\(describeError(error))"])
        }
        return nil
    }

    /// Polls the job until it ends, then records its outcome (returned; `nil` when fenced out).
    private func follow(_ claim: ClaimedAttempt, stage: StageSpec) async throws -> StageOutcome? {
        let submissionID = claim.raySubmissionID ?? claim.id.lowercased
        let following = ContinuousClock.now
        var lastStatus: RayJobDetails.Status?
        // Since when the ended job's log could not be read (it holds the outputs and metrics).
        var logFailingSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            if let since = logFailingSince, Date() >= claim.deadline || ContinuousClock.now - since >= Self.logPatience
            {
                return try await failUnreadableLog(claim, stage: stage, submissionID: submissionID)
            }
            if Date() >= claim.deadline {
                return try await stopForTimeout(claim, stage: stage, submissionID: submissionID)
            }
            let job: RayJobDetails
            switch await lookUp(submissionID) {
            case .found(let details):
                job = details
            case .missing:
                // Ray forgets its jobs when the head restarts: the attempt failed, a retry runs anew.
                return try await attempts.finishCounted(
                    claim, state: .failed, error: "Ray no longer knows job \(submissionID) (was the head restarted?)",
                    errorType: "ray_job_lost", gpus: stage.ray?.resources.gpus ?? 0)
            case .unavailable(let error) where !error.isRetriable:
                throw error
            case .unavailable(let error):
                // A hiccup of the dashboard: keep the lease and ask again, rather than wait for adoption.
                logger.warning(
                    "ray did not answer; polling on",
                    metadata: [LogKeys.attemptID: "\(submissionID)", LogKeys.error: "\(error)"])
                try await Task.sleep(for: configuration.rayMaxPollInterval)
                continue
            }
            if job.status.isTerminal {
                let log: String
                do {
                    log = try await ray.logs(submissionID)
                } catch {
                    // Never "no outputs": the outputs and metrics are in the log, so ask again.
                    logger.warning(
                        "cannot read the ended ray job's log; trying again",
                        metadata: [LogKeys.attemptID: "\(submissionID)", LogKeys.error: "\(error)"])
                    logFailingSince = logFailingSince ?? .now
                    try await Task.sleep(for: configuration.rayMaxPollInterval)
                    continue
                }
                return try await finish(claim, job: job, log: log, stage: stage, submissionID: submissionID)
            }
            if job.status != lastStatus {
                try await attempts.recordRayStatus(claim, status: job.status.rawValue)
                lastStatus = job.status
            }
            // A twentieth of the time followed, within [rayPollInterval, rayMaxPollInterval]: a job of a
            // few seconds is seen ending within ~150 ms, one of hours costs no more polls than before.
            let delay = min(
                max(configuration.rayPollInterval, (ContinuousClock.now - following) / 20),
                configuration.rayMaxPollInterval)
            try await Task.sleep(for: min(delay, max(.milliseconds(50), .seconds(claim.deadline.timeIntervalSinceNow))))
        }
        return nil
    }

    private enum Lookup {
        case found(RayJobDetails)
        /// Ray does not know the job.
        case missing
        /// Ray could not say, for now.
        case unavailable(RayError)
    }

    private func lookUp(_ submissionID: String) async -> Lookup {
        do {
            return .found(try await ray.job(submissionID))
        } catch  where error.code == .notFound {
            return .missing
        } catch {
            return .unavailable(error)
        }
    }

    /// How long the log of an ended job may stay unreadable before the attempt fails
    /// (`log_unreadable`, retried as the stage's policy says) rather than succeed without outputs.
    static let logPatience: Duration = .seconds(600)

    private func failUnreadableLog(_ claim: ClaimedAttempt, stage: StageSpec, submissionID: String) async throws
        -> StageOutcome?
    {
        let error =
            "the Ray job ended but its log (with the job's outputs and metrics) could not be read for "
            + "\(DurationParsing.format(Self.logPatience)) or until the stage timeout; see the worker's log"
        return try await attempts.finishCounted(
            claim, state: .failed, error: error, errorType: "log_unreadable", gpus: stage.ray?.resources.gpus ?? 0)
    }

    /// The declared outputs a job did not report, in the stage's order.
    static func missingOutputs(_ stage: StageSpec, records: JobRecords) -> [String] {
        let reported = Set(records.outputs.map(\.name))
        return stage.outputs.filter { !reported.contains($0) }
    }

    private func finish(
        _ claim: ClaimedAttempt, job: RayJobDetails, log: String, stage: StageSpec, submissionID: String
    ) async throws -> StageOutcome? {
        let records = JobRecords(log: log)
        for problem in records.problems.prefix(5) {
            logger.warning(
                "bad job record", metadata: [LogKeys.attemptID: "\(submissionID)", LogKeys.error: "\(problem)"])
        }
        let report = AttemptReport(
            rayStatus: job.status.rawValue, rayMessage: job.message, rayErrorType: job.errorType,
            driverExitCode: job.driverExitCode,
            rayStartedAt: job.startTime.map { Date(timeIntervalSince1970: Double($0) / 1000) },
            rayEndedAt: job.endTime.map { Date(timeIntervalSince1970: Double($0) / 1000) }, records: records)
        let state: AttemptState
        var error: String?
        var errorType: String?
        let missing = Self.missingOutputs(stage, records: records)
        switch job.status {
        case .succeeded where !missing.isEmpty:
            // Downstream stages and the cache need every declared output: not a success.
            state = .failed
            let names = missing.map { "'\($0)'" }.joined(separator: ", ")
            error =
                "the Ray job succeeded but did not report declared output\(missing.count == 1 ? "" : "s") \(names): "
                + "each needs a ::baton::output line in the job's log (jobs/baton_jobs writes them)"
            errorType = "missing_outputs"
        case .succeeded:
            state = .succeeded
        case .stopped:
            state = .failed
            error = "the Ray job was stopped outside Baton: \(job.message ?? "no message")"
            errorType = "job_stopped"
        default:
            state = .failed
            let exit = job.driverExitCode.map { " (driver exit code \($0))" } ?? ""
            error = "\(job.message ?? "the Ray job failed")\(exit)"
            errorType = job.errorType ?? "job_failed"
        }
        return try await attempts.finishCounted(
            claim, state: state, error: error, errorType: errorType, report: report,
            gpus: stage.ray?.resources.gpus ?? 0)
    }

    private func stopForTimeout(_ claim: ClaimedAttempt, stage: StageSpec, submissionID: String) async throws
        -> StageOutcome?
    {
        let status = try await stopJob(submissionID)
        let error = "exceeded the stage timeout of \(DurationParsing.format(stage.timeout)); Ray job \(status)"
        guard
            let outcome = try await attempts.finishCounted(
                claim, state: .timedOut, error: error, errorType: "timeout", report: AttemptReport(rayStatus: status),
                gpus: stage.ray?.resources.gpus ?? 0)
        else { return nil }
        try await attempts.markRayStopped(claim.id, status: status)
        return outcome
    }

    private func leaseLost(_ claim: ClaimedAttempt, submissionID: String) async throws {
        let state = try await attempts.attemptState(claim.id)
        logger.info(
            "lease lost; stopping watch",
            metadata: [LogKeys.attemptID: "\(submissionID)", LogKeys.state: "\(state?.rawValue ?? "-")"])
        if state == .cancelled || state == .timedOut {
            try await attempts.markRayStopped(claim.id, status: try await stopJob(submissionID))
        }
    }

    /// Asks Ray to stop a job and waits (bounded) until Ray reports it ended.
    ///
    /// - Returns: Ray's final status, e.g. `STOPPED`.
    func stopJob(_ submissionID: String) async throws -> String {
        _ = try await ray.stop(submissionID)
        let deadline = ContinuousClock.now + configuration.rayStopTimeout
        while ContinuousClock.now < deadline {
            let job = try await ray.job(submissionID)
            if job.status.isTerminal { return job.status.rawValue }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw RayStageError(
            "Ray did not stop job \(submissionID) within \(DurationParsing.format(configuration.rayStopTimeout))")
    }
}

/// A `ray` stage that cannot run as configured.
struct RayStageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
