import Foundation

/// What a pipeline spec may ask of the cluster, since a spec is code: its Ray entrypoints run
/// on the cluster, its `runtime_env` installs and mounts, its paths are read on Baton's hosts.
///
/// Set by the file `BATON_SPEC_POLICY` names (see ``load(yaml:paths:)``); every rule has a
/// default that lets the reference pipelines run. The coordinator applies it to every request,
/// however it arrived (the API, `baton submit`, or a producer writing to Kafka); the API also
/// applies it before it accepts a request. A refusal names the rule that refused, e.g.
/// `spec policy (entrypoint_prefixes): ...`.
public struct SpecPolicy: Sendable, Hashable {
    /// Where local paths may point (`BATON_JOBS_ROOT`, `BATON_DATA_ROOTS`); always applied.
    public var paths: LocalPathPolicy
    /// API scopes whose holders may send a spec with a request (rather than name a registered
    /// pipeline); `admin` always may, so an empty set allows it to admins only. Default: `runs:submit`.
    public var inlineSpecScopes: Set<APIScope> = [.runsSubmit]
    /// Whether a spec sent in a `pipeline.requested` event produced straight to Kafka (by a
    /// producer Baton cannot identify) is run. Default: yes.
    public var inlineSpecsOnKafka = true
    /// The commands a Ray entrypoint may start with; when set, an entrypoint must start with one
    /// and hold no shell operator (`;`, `&`, `|`, `` ` ``, `$(`, `<`, `>`, a newline). Nil: any.
    public var entrypointPrefixes: [String]?
    /// The container images (`runtime_env.image_uri`, `runtime_env.container.image`) allowed, as
    /// patterns where `*` matches any run of characters. Nil: any image.
    public var images: [String]?
    /// The `runtime_env` keys a stage may set. Default: ``rayRuntimeEnvKeys``.
    public var runtimeEnvKeys: Set<String> = Self.rayRuntimeEnvKeys

    /// The `runtime_env` keys Ray documents.
    public static let rayRuntimeEnvKeys: Set<String> = [
        "working_dir", "py_modules", "py_executable", "excludes", "pip", "uv", "conda", "env_vars", "container",
        "image_uri", "config", "nsight", "java_jars",
    ]

    /// The default policy over `paths`.
    public init(paths: LocalPathPolicy) { self.paths = paths }

    /// Why a caller holding `scopes` may not send a spec with its request; nil when it may.
    /// `scopes` is nil for a request that came straight from Kafka.
    public func inlineSpecRefusal(scopes: Set<APIScope>?) -> String? {
        guard let scopes else {
            return inlineSpecsOnKafka
                ? nil
                : "spec policy (inline_specs.kafka): a spec sent on Kafka is not run; name a registered pipeline "
                    + "(`pipeline`), or submit through the API"
        }
        if scopes.contains(.admin) || !scopes.isDisjoint(with: inlineSpecScopes) { return nil }
        let allowed = inlineSpecScopes.sorted().map(\.rawValue)
        return "spec policy (inline_specs.api_scopes): only "
            + (allowed.isEmpty ? "admins" : allowed.joined(separator: " or ") + " tokens")
            + " may send a spec; name a registered pipeline (`pipeline`)"
    }

    /// The first rule `spec` breaks with `params` filled in, as the sentence that rejects the
    /// request; nil when it keeps every rule.
    public func violation(in spec: PipelineSpec, params: [String: JSONValue]) -> String? {
        for stage in spec.stages {
            guard let ray = stage.ray else { continue }
            if let refusal = entrypointRefusal(ray.entrypoint) {
                return "spec policy (entrypoint_prefixes): stage \(stage.name): \(refusal)"
            }
            if let key = ray.runtimeEnv.keys.sorted().first(where: { !runtimeEnvKeys.contains($0) }) {
                return "spec policy (runtime_env_keys): stage \(stage.name): runtime_env key '\(key.prefix(100))' "
                    + "is not allowed; allowed: \(runtimeEnvKeys.sorted().joined(separator: ", "))"
            }
            if let refusal = imageRefusal(ray.runtimeEnv) {
                return "spec policy (images): stage \(stage.name): \(refusal)"
            }
        }
        return paths.violation(in: spec, params: params)
    }

    private static let shellOperators = [";", "&", "|", "`", "$(", "<", ">", "\n", "\r"]

    private func entrypointRefusal(_ entrypoint: String) -> String? {
        guard let prefixes = entrypointPrefixes else { return nil }
        let shown = "'\(entrypoint.prefix(200))'"
        guard prefixes.contains(where: { entrypoint.hasPrefix($0) }) else {
            return "entrypoint \(shown) does not start with an allowed command ("
                + prefixes.map { "'\($0)'" }.joined(separator: ", ") + ")"
        }
        if let found = Self.shellOperators.first(where: { entrypoint.contains($0) }) {
            return "entrypoint \(shown) holds the shell operator '\(found.debugDescription.dropFirst().dropLast())'"
        }
        return nil
    }

    private func imageRefusal(_ runtimeEnv: [String: JSONValue]) -> String? {
        guard let images else { return nil }
        var named: [String] = []
        if let image = runtimeEnv["image_uri"] { named.append(image.plainText) }
        if case .object(let container)? = runtimeEnv["container"], let image = container["image"] {
            named.append(image.plainText)
        }
        for image in named where !images.contains(where: { Self.matches(image, pattern: $0) }) {
            return "image '\(image.prefix(200))' is not allowed; allowed: \(images.joined(separator: ", "))"
        }
        return nil
    }

    /// Whether `text` matches `pattern`, where `*` matches any run of characters (`/` too).
    static func matches(_ text: String, pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return text == pattern }
        guard text.hasPrefix(parts.first!), text.hasSuffix(parts.last!),
            text.count >= parts.first!.count + parts.last!.count
        else { return false }
        var rest = text.dropFirst(parts.first!.count).dropLast(parts.last!.count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }
}
