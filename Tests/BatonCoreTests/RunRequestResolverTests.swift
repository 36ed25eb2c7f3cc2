import BatonCore
import Foundation
import Testing

/// What a `pipeline.requested` event resolves to, decided without a database.
@Suite("Run request resolver")
struct RunRequestResolverTests {
    static let yaml = """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: tiny}
        params: {epochs: {type: integer, default: 1}}
        stages:
          - {name: prepare, kind: noop}
          - {name: train, kind: noop, needs: [prepare]}
        """

    func rejection(_ result: Result<RunRequestResolver.Resolution, RunRequestResolver.Rejection>) -> String? {
        if case .failure(let rejection) = result { return rejection.reason }
        return nil
    }

    @Test("An inline spec resolves with its params; defaults fill the rest")
    func inline() throws {
        let request = PipelineRequested(spec: Self.yaml, params: ["epochs": .int(3)])
        #expect(RunRequestResolver.lookup(for: request) == .success(.none))
        let resolution = try RunRequestResolver.resolve(request, stored: nil, original: nil).get()
        #expect(resolution.spec.name == "tiny" && resolution.version == nil)
        #expect(resolution.params == ["epochs": .int(3)])
        let defaulted = try RunRequestResolver.resolve(PipelineRequested(spec: Self.yaml), stored: nil, original: nil)
            .get()
        #expect(defaulted.params == ["epochs": .int(1)])
    }

    @Test("A named pipeline resolves from the stored version; an unknown one is refused by name and version")
    func stored() throws {
        let request = PipelineRequested(pipeline: "tiny", version: 4)
        #expect(RunRequestResolver.lookup(for: request) == .success(.pipeline(name: "tiny", version: 4)))
        let resolution = try RunRequestResolver.resolve(
            request, stored: .init(yaml: Self.yaml, version: 4), original: nil
        ).get()
        #expect(resolution.version == 4 && resolution.yaml == Self.yaml)
        #expect(
            rejection(RunRequestResolver.resolve(request, stored: nil, original: nil))
                == "unknown pipeline: no version 4 of 'tiny' was applied")
        #expect(
            rejection(RunRequestResolver.resolve(PipelineRequested(pipeline: "x"), stored: nil, original: nil))
                == "unknown pipeline: no 'x' was applied")
    }

    @Test("Requests that name nothing, name another pipeline, or give bad params are refused with a reason")
    func refusals() {
        #expect(
            rejection(RunRequestResolver.resolve(PipelineRequested(), stored: nil, original: nil))
                == "request names no pipeline: set 'pipeline' or 'spec'")
        let mismatch = PipelineRequested(pipeline: "other", spec: Self.yaml)
        #expect(
            rejection(RunRequestResolver.resolve(mismatch, stored: nil, original: nil))
                == "request names pipeline 'other' but the spec is 'tiny'")
        let badParam = PipelineRequested(spec: Self.yaml, params: ["epochs": .string("many")])
        #expect(rejection(RunRequestResolver.resolve(badParam, stored: nil, original: nil))?.contains("epochs") == true)
        let badSpec = PipelineRequested(spec: "kind: Pipeline")
        #expect(rejection(RunRequestResolver.resolve(badSpec, stored: nil, original: nil)) != nil)
    }

    @Test(
        "A retry takes the original run's spec and params, and refuses changes, a running or unknown run, a bad stage")
    func retries() throws {
        let id = UUID()
        let original = RunRequestResolver.OriginalRun(
            id: id, yaml: Self.yaml, version: 2, params: ["epochs": .int(9)], isRunning: false)
        let request = PipelineRequested(retryOf: id, retryFrom: "train")
        #expect(RunRequestResolver.lookup(for: request) == .success(.originalRun(id)))
        let resolution = try RunRequestResolver.resolve(request, stored: nil, original: original).get()
        #expect(resolution.params == ["epochs": .int(9)] && resolution.version == 2)

        let changed = PipelineRequested(params: ["epochs": .int(2)], retryOf: id, retryFrom: "train")
        #expect(
            rejection(RunRequestResolver.resolve(changed, stored: nil, original: original))?.hasPrefix("a retry takes")
                == true)
        #expect(
            rejection(RunRequestResolver.resolve(request, stored: nil, original: nil))
                == "unknown run \(id.lowercased) to retry")
        var running = original
        running.isRunning = true
        #expect(
            rejection(RunRequestResolver.resolve(request, stored: nil, original: running))
                == "run \(id.lowercased) is still running; retry it once it ended")
        let badStage = PipelineRequested(retryOf: id, retryFrom: "deploy")
        #expect(
            rejection(RunRequestResolver.resolve(badStage, stored: nil, original: original))
                == "retry_from must name a stage of tiny: prepare, train")
    }
}
