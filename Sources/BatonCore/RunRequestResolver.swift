import Foundation

/// Decides what a `pipeline.requested` event asks for: the spec, its version and the params a
/// new run gets, or the sentence that rejects the request. Pure: the store looks up what
/// ``lookup(for:)`` names, passes it to ``resolve(_:stored:original:)``, and writes the result.
///
/// The rules: a request carries an inline spec or names a stored pipeline (an inline spec that
/// also names a pipeline must be that pipeline); params are checked against the spec's
/// declarations; a retry (`retryOf`) takes the original run's spec and params as stored, may not
/// change them, must name one of its stages in `retryFrom`, and waits until the original ended.
public enum RunRequestResolver {
    /// What the store must read before the request can be resolved.
    public enum Lookup: Sendable, Hashable {
        /// Nothing: the spec is inline.
        case none
        /// The stored pipeline `name`, at `version` (the latest when `nil`).
        case pipeline(name: String, version: Int?)
        /// The run a retry re-runs.
        case originalRun(UUID)
    }

    /// A stored pipeline version, as the store read it.
    public struct StoredPipeline: Sendable, Hashable {
        /// Its YAML, as applied.
        public var yaml: String
        /// Its version number.
        public var version: Int

        /// A stored version `version` with text `yaml`.
        public init(yaml: String, version: Int) {
            self.yaml = yaml
            self.version = version
        }
    }

    /// The run a retry names, as the store read it.
    public struct OriginalRun: Sendable, Hashable {
        /// The run's id.
        public var id: UUID
        /// The spec the run ran, as stored with it.
        public var yaml: String
        /// The stored pipeline version it ran, if it named one.
        public var version: Int?
        /// Its resolved params.
        public var params: [String: JSONValue]
        /// Whether it is still running.
        public var isRunning: Bool

        /// The original run `id` as stored.
        public init(id: UUID, yaml: String, version: Int?, params: [String: JSONValue], isRunning: Bool) {
            self.id = id
            self.yaml = yaml
            self.version = version
            self.params = params
            self.isRunning = isRunning
        }
    }

    /// What a new run gets.
    public struct Resolution: Sendable {
        /// The parsed spec.
        public var spec: PipelineSpec
        /// Its text, stored with the run.
        public var yaml: String
        /// The stored pipeline version, when the request named one (or the retried run did).
        public var version: Int?
        /// Every declared param, given or defaulted.
        public var params: [String: JSONValue]
    }

    /// Why a request is refused: a sentence for the requester (cut to
    /// ``RequestLimits/maxReasonBytes`` when recorded).
    public struct Rejection: Error, Sendable, Hashable {
        /// The sentence.
        public var reason: String
    }

    /// What to read for `request`, or the rejection of a request that cannot name anything.
    public static func lookup(for request: PipelineRequested) -> Result<Lookup, Rejection> {
        if let original = request.retryOf {
            guard request.spec == nil, request.pipeline == nil, request.params == nil else {
                return .failure(
                    Rejection(
                        reason:
                            "a retry takes the spec and params of run \(original.lowercased); submit a new run to change them"
                    ))
            }
            return .success(.originalRun(original))
        }
        switch (request.spec, request.pipeline) {
        case (.some, _): return .success(.none)
        case (nil, let name?): return .success(.pipeline(name: name, version: request.version))
        case (nil, nil): return .failure(Rejection(reason: "request names no pipeline: set 'pipeline' or 'spec'"))
        }
    }

    /// Resolves `request` with what ``lookup(for:)`` named: `stored` for a named pipeline,
    /// `original` for a retry (`nil` when the store found none).
    public static func resolve(
        _ request: PipelineRequested, stored: StoredPipeline?, original: OriginalRun?,
        specs: PipelineSpecCache = .shared
    ) -> Result<Resolution, Rejection> {
        switch lookup(for: request) {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(.originalRun(let id)):
            guard let original else { return .failure(Rejection(reason: "unknown run \(id.lowercased) to retry")) }
            return retry(request, of: original, specs: specs)
        case .success(.pipeline(let name, let version)):
            guard let stored else {
                let which = version.map { "version \($0) of " } ?? ""
                return .failure(Rejection(reason: "unknown pipeline: no \(which)'\(name)' was applied"))
            }
            return resolve(request, yaml: stored.yaml, version: stored.version, specs: specs)
        case .success(.none):
            return resolve(request, yaml: request.spec ?? "", version: nil, specs: specs)
        }
    }

    private static func resolve(
        _ request: PipelineRequested, yaml: String, version: Int?, specs: PipelineSpecCache
    ) -> Result<Resolution, Rejection> {
        let spec: PipelineSpec
        do {
            spec = try specs.spec(yaml)
        } catch {
            return .failure(Rejection(reason: error.description))
        }
        if let name = request.pipeline, request.spec != nil, name != spec.name {
            return .failure(Rejection(reason: "request names pipeline '\(name)' but the spec is '\(spec.name)'"))
        }
        do {
            let params = try ParamResolver.resolve(request.params ?? [:], declared: spec.params)
            return .success(Resolution(spec: spec, yaml: yaml, version: version, params: params))
        } catch {
            return .failure(Rejection(reason: error.message))
        }
    }

    private static func retry(
        _ request: PipelineRequested, of original: OriginalRun, specs: PipelineSpecCache
    ) -> Result<Resolution, Rejection> {
        let id = original.id.lowercased
        guard !original.isRunning else {
            return .failure(Rejection(reason: "run \(id) is still running; retry it once it ended"))
        }
        let spec: PipelineSpec
        do {
            spec = try specs.spec(original.yaml)
        } catch {
            return .failure(Rejection(reason: "the spec of run \(id) no longer parses: \(error)"))
        }
        guard let from = request.retryFrom, spec.stage(named: from) != nil else {
            return .failure(
                Rejection(
                    reason: "retry_from must name a stage of \(spec.name): "
                        + spec.stages.map(\.name).joined(separator: ", ")))
        }
        return .success(Resolution(spec: spec, yaml: original.yaml, version: original.version, params: original.params))
    }
}
