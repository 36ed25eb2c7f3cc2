import BatonCore
import BatonStore
import OpenAPIRuntime

extension APIHandlers {
    func listDeadLetters(_ input: Operations.ListDeadLetters.Input) async throws -> Operations.ListDeadLetters.Output {
        let limit = input.query.limit ?? 100
        guard (1...500).contains(limit) else { throw APIProblem.badRequest("limit must be 1 to 500") }
        let letters = try await store.messaging.deadLetters(
            limit: limit, includeDiscarded: input.query.includeDiscarded ?? false)
        let parked = try await store.messaging.parkedOutboxEvents(limit: limit)
        return .ok(.init(body: .json(.init(deadLetters: letters, parkedOutbox: parked))))
    }
}

extension APIHandlers {
    func replayDeadLetter(_ input: Operations.ReplayDeadLetter.Input) async throws
        -> Operations.ReplayDeadLetter.Output
    {
        let caller = try RequestCaller.required()
        let id = input.path.id
        guard let replayer = configuration.deadLetterReplayer else {
            throw APIProblem.unavailable("this API server cannot produce to Kafka; use `baton dlq replay`")
        }
        let destination: String
        do {
            destination = try await replayer.replay(id, actor: caller.name)
        } catch {
            try await store.access.audit(
                caller, action: "dead_letters.replay", target: "\(id)", outcome: "refused",
                detail: ["reason": .string(error.reason)])
            switch error.code {
            case .notFound: throw APIProblem.notFound(error.reason)
            case .notReplayable: throw APIProblem.unprocessable(error.reason)
            default: throw APIProblem.unavailable(error.reason)
            }
        }
        try await store.access.audit(
            caller, action: "dead_letters.replay", target: "\(id)", outcome: "replayed",
            detail: ["destination": .string(destination)])
        return .ok(.init(body: .json(.init(id: id, destination: destination))))
    }

    func discardDeadLetter(_ input: Operations.DiscardDeadLetter.Input) async throws
        -> Operations.DiscardDeadLetter.Output
    {
        let caller = try RequestCaller.required()
        let id = input.path.id
        var reason: String?
        if case .json(let body) = input.body { reason = body.reason }
        guard try await store.messaging.discardDeadLetter(id, actor: caller.name, reason: reason) else {
            guard try await store.messaging.deadLetter(id) != nil else {
                throw APIProblem.notFound("no dead letter \(id)")
            }
            throw APIProblem.conflict("dead letter \(id) is already discarded")
        }
        try await store.access.audit(
            caller, action: "dead_letters.discard", target: "\(id)", outcome: "discarded",
            detail: reason.map { ["reason": .string($0)] } ?? [:])
        return .ok(.init(body: .json(.init(id: id, discarded: true))))
    }
}
