import BatonCore
import BatonStore
import Foundation
import OpenAPIRuntime

extension APIHandlers {
    func listPipelines(_ input: Operations.ListPipelines.Input) async throws -> Operations.ListPipelines.Output {
        let limit = input.query.limit ?? 100
        guard (1...500).contains(limit) else { throw APIProblem.badRequest("limit must be 1 to 500") }
        let pipelines = try await store.runs.listPipelines().prefix(limit).map {
            Components.Schemas.PipelineList.PipelinesPayloadPayload(
                name: $0.name, version: $0.version, createdAt: $0.createdAt)
        }
        return .ok(.init(body: .json(.init(pipelines: pipelines))))
    }

    func getPipeline(_ input: Operations.GetPipeline.Input) async throws -> Operations.GetPipeline.Output {
        let name = String(input.path.name.prefix(200))
        guard let pipeline = try await store.runs.pipeline(named: name, version: input.query.version) else {
            throw APIProblem.notFound(
                input.query.version.map { "pipeline '\(name)' has no version \($0)" } ?? "no pipeline '\(name)'")
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        name: pipeline.name, version: pipeline.version, spec: pipeline.yaml,
                        createdAt: pipeline.createdAt))))
    }

    /// Applies a spec as the next version of the pipeline named in the path, audited.
    func applyPipeline(_ input: Operations.ApplyPipeline.Input) async throws -> Operations.ApplyPipeline.Output {
        let caller = try RequestCaller.required()
        guard case .json(let body) = input.body else { throw APIProblem.badRequest("send the request as JSON") }
        guard body.spec.utf8.count <= PipelineSpecParser.maxSpecBytes else {
            throw APIProblem.unprocessable("spec: at most \(PipelineSpecParser.maxSpecBytes) bytes")
        }
        let spec: PipelineSpec
        do {
            spec = try PipelineSpecParser.parse(body.spec)
        } catch {
            throw APIProblem.unprocessable(error.description)
        }
        guard spec.name == input.path.name else {
            throw APIProblem.unprocessable(
                "the spec's metadata.name is '\(spec.name)', not '\(input.path.name.prefix(200))' as in the path")
        }
        let (version, isNew) = try await store.runs.applyPipeline(yaml: body.spec)
        try await store.access.audit(
            caller, action: "pipelines.apply", target: spec.name, outcome: isNew ? "created" : "unchanged",
            detail: ["version": .int(Int64(version.version))])
        return .ok(.init(body: .json(.init(name: version.name, version: version.version, created: isNew))))
    }
}
