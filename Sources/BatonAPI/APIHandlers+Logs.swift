import BatonCore
import BatonStore
import Foundation
import OpenAPIRuntime

extension APIHandlers {
    func getStageLog(_ input: Operations.GetStageLog.Input) async throws -> Operations.GetStageLog.Output {
        let runID = try Self.runID(input.path.runId)
        let stage = input.path.stage
        let tailLines = input.query.tailLines ?? 1000
        guard (0...100_000).contains(tailLines) else { throw APIProblem.badRequest("tail_lines must be 0 to 100000") }
        if let attempt = input.query.attempt, !(1...1000).contains(attempt) {
            throw APIProblem.badRequest("attempt must be 1 to 1000")
        }
        guard (1...63).contains(stage.utf8.count) else { throw APIProblem.badRequest("a stage name has 1 to 63 bytes") }
        let attempts = store.attempts
        guard let target = try await attempts.logTarget(runID: runID, stage: stage, attempt: input.query.attempt)
        else { throw try await missingTarget(runID: runID, stage: stage, attempt: input.query.attempt) }
        let name = "attempt \(target.attempt) of stage '\(stage)'"
        guard target.kind == .ray else {
            throw APIProblem.notFound(
                "stage '\(stage)' is a \(target.kind.rawValue) stage, which the engine runs itself: it has no job log; "
                    + "GET /v1/runs/\(runID.lowercased) shows what it did")
        }
        guard let source = configuration.jobLogs else {
            throw APIProblem.unavailable(
                "this API server reads no job logs: it has no Ray launcher (set BATON_RAY_ADDRESS or BATON_RAY_LAUNCHER)"
            )
        }
        let headers = Operations.GetStageLog.Output.Ok.Headers(
            xBatonAttempt: target.attempt, xBatonAttemptState: .init(rawValue: target.state.rawValue))
        let ended = target.state.isTerminal
        var log = ""
        if let submissionID = target.submissionID {
            log = try await Self.read(source, submissionID, name: name)
        } else if input.query.follow != true || ended {
            throw APIProblem.notFound(
                "\(name) has started no Ray job (it is \(target.state.rawValue)); with follow=true the answer waits for it"
            )
        }
        guard input.query.follow == true else {
            return .ok(
                .init(headers: headers, body: .plainText(HTTPBody(String(JobLogFollower.lastLines(log, tailLines))))))
        }
        guard let slot = logFollows.take() else {
            throw APIProblem.unavailable(
                "\(logFollows.limit) logs are being followed; try again later or ask without follow")
        }
        let follower = attempts.logFollower(
            of: target, runID: runID, stage: stage, source: source, tailLines: tailLines, firstRead: (log, ended))
        // The slot is held by the body's sequence and given back when the body is let go.
        let chunks = follower.map { chunk in
            withExtendedLifetime(slot) { HTTPBody.ByteChunk(chunk.utf8) }
        }
        return .ok(
            .init(headers: headers, body: .plainText(HTTPBody(chunks, length: .unknown, iterationBehavior: .single))))
    }

    /// The job log of `submissionID`, its errors as problems.
    private static func read(_ source: any JobLogSource, _ submissionID: String, name: String) async throws -> String {
        do {
            return try await source.jobLog(submissionID: submissionID)
        } catch {
            switch error.code {
            case .notFound: throw APIProblem.notFound("Ray no longer has the job of \(name): \(error.reason)")
            case .unavailable: throw APIProblem.unavailable("Ray did not answer for the log of \(name); try again")
            default: throw APIProblem.badGateway("Ray refused the log of \(name): \(error.reason)")
            }
        }
    }

    /// Why there is no attempt to read: no run, no such stage, or no such attempt.
    private func missingTarget(runID: UUID, stage: String, attempt: Int?) async throws -> APIProblem {
        guard let run = try await store.runs.run(runID) else {
            return .notFound("no run \(runID.lowercased)")
        }
        guard let view = run.stages.first(where: { $0.name == stage }) else {
            return .notFound(
                "run \(runID.lowercased) has no stage '\(stage)'; its stages are "
                    + run.stages.map(\.name).joined(separator: ", "))
        }
        if let attempt {
            return .notFound("stage '\(stage)' has \(view.attempts) attempt(s), not \(attempt)")
        }
        return .notFound("stage '\(stage)' has not been queued yet (it is \(view.state.rawValue)); ask again later")
    }
}
