import BatonCore
import BatonStore
import Foundation
import OpenAPIRuntime

extension APIHandlers {
    /// The lineage graph of an artifact or of a run's final outputs, with the provenance of the
    /// first root when walking upstream.
    func getLineage(_ input: Operations.GetLineage.Input) async throws -> Operations.GetLineage.Output {
        let depth = input.query.depth ?? LineageBounds.standard.maxDepth
        guard let bounds = LineageBounds(maxDepth: depth, maxNodes: LineageBounds.standard.maxNodes), depth <= 100
        else { throw APIProblem.badRequest("depth must be 0 to 100") }
        let roots: [ArtifactView]
        switch (input.query.uri, input.query.run) {
        case (let uri?, nil):
            roots = try await store.lineage.artifact(uri: uri).map { [$0] } ?? []
            guard !roots.isEmpty else { throw APIProblem.notFound("no artifact is recorded at '\(uri.prefix(200))'") }
        case (nil, let run?):
            guard let runID = UUID(uuidString: run) else { throw APIProblem.badRequest("run must be a run id") }
            roots = try await store.lineage.finalOutputs(ofRun: runID)
            guard !roots.isEmpty else { throw APIProblem.notFound("run \(runID.lowercased) has no recorded outputs") }
        default:
            throw APIProblem.badRequest("give exactly one of uri and run")
        }
        let direction: LineageDirection = input.query.direction == .downstream ? .downstream : .upstream
        let graph = try await store.lineage.lineage(of: roots.map(\.id), direction: direction, bounds: bounds)
        let provenance =
            direction == .upstream ? try await store.lineage.provenance(of: roots[0].id, bounds: bounds) : nil
        return .ok(.init(body: .json(.init(graph: graph, provenance: provenance))))
    }
}
