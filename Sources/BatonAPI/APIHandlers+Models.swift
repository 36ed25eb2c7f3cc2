import BatonCore
import BatonStore
import Foundation
import OpenAPIRuntime

extension APIHandlers {
    func listModels(_ input: Operations.ListModels.Input) async throws -> Operations.ListModels.Output {
        let limit = input.query.limit ?? 100
        guard (1...500).contains(limit) else { throw APIProblem.badRequest("limit must be 1 to 500") }
        return .ok(.init(body: .json(.init(models: try await store.registry.listModels(limit: limit)))))
    }

    func getModel(_ input: Operations.GetModel.Input) async throws -> Operations.GetModel.Output {
        let name = input.path.name
        guard let model = try await store.registry.model(String(name.prefix(200))) else {
            throw APIProblem.notFound("there is no registered model '\(name.prefix(200))'")
        }
        return .ok(.init(body: .json(model)))
    }

    /// Promotes or rolls back an alias; the store writes the audit row of the registry (with the
    /// caller as actor) and the `model.promoted` event, and the API's audit log notes the call.
    func moveModelAlias(_ input: Operations.MoveModelAlias.Input) async throws -> Operations.MoveModelAlias.Output {
        let caller = try RequestCaller.required()
        guard case .json(let body) = input.body else { throw APIProblem.badRequest("send the request as JSON") }
        let (model, alias) = (input.path.name, input.path.alias)
        let reason = String(body.reason.prefix(1000))
        let moved: ModelPromoted?
        do {
            switch (body.version, body.rollback ?? false) {
            case (let version?, false):
                moved = try await store.registry.promote(
                    model: model, alias: alias, to: version, actor: caller.name, reason: reason)
            case (nil, true):
                moved = try await store.registry.rollback(
                    model: model, alias: alias, actor: caller.name, reason: reason)
            default:
                throw APIProblem.unprocessable("give either version (to promote) or rollback: true")
            }
        } catch let error as StoreError where error.code == .notFound {
            throw APIProblem.notFound(error.reason)
        }
        let target = "\(model)/\(alias)"
        try await store.access.audit(
            caller, action: body.rollback == true ? "models.rollback" : "models.promote", target: target,
            outcome: moved == nil ? "unchanged" : "moved",
            detail: ["to_version": moved?.toVersion.map { .int(Int64($0)) } ?? .null, "reason": .string(reason)])
        let answer = Components.Schemas.AliasMove(
            model: model, alias: alias, fromVersion: moved?.fromVersion, toVersion: moved?.toVersion ?? body.version,
            move: moved.map { Components.Schemas.AliasMove.MovePayload(rawValue: $0.move.rawValue) ?? .none } ?? .none,
            actor: caller.name, reason: reason, runId: nil, movedAt: moved == nil ? nil : Date())
        return .ok(.init(body: .json(answer)))
    }
}
