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
