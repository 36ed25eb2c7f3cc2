import Yams

/// A spec policy file that cannot be used, with what is wrong and where.
public struct SpecPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, naming the key.
    public var message: String
    public var description: String { "spec policy: \(message)" }

    init(_ message: String) { self.message = message }
}

extension SpecPolicy {
    /// The policy a YAML file states over `paths`; keys left out keep their defaults:
    ///
    /// ```yaml
    /// inline_specs:
    ///   api_scopes: [admin]       # who may send a spec with a request over the API
    ///   kafka: false              # whether specs produced straight to Kafka are run
    /// entrypoint_prefixes: ["python -m jobs.", "python3 train.py"]
    /// images: ["rayproject/ray:2.*", "registry.example.com/llm/*"]
    /// runtime_env_keys: [working_dir, pip, env_vars]
    /// ```
    ///
    /// - Throws: ``SpecPolicyError`` for YAML that does not parse, an unknown key, a value of the
    ///   wrong kind, an unknown scope, or more than 200 entries in a list.
    public static func load(yaml: String, paths: LocalPathPolicy) throws(SpecPolicyError) -> SpecPolicy {
        guard yaml.utf8.count <= 1 << 20 else { throw SpecPolicyError("the file is larger than 1 MiB") }
        let root: [String: JSONValue]
        do {
            guard let node = try Yams.compose(yaml: yaml) else { return SpecPolicy(paths: paths) }
            guard case .object(let object) = try JSONValue(yaml: node) else {
                throw SpecPolicyError("the file must be a mapping of rules")
            }
            root = object
        } catch let error as SpecPolicyError {
            throw error
        } catch let error as YAMLValueError {
            throw SpecPolicyError(error.message)
        } catch {
            throw SpecPolicyError("not YAML: \(String(describing: error).prefix(300))")
        }
        var policy = SpecPolicy(paths: paths)
        try check(root, allowed: ["inline_specs", "entrypoint_prefixes", "images", "runtime_env_keys"], at: "")
        if let inline = root["inline_specs"] {
            guard case .object(let rules) = inline else { throw SpecPolicyError("inline_specs must be a mapping") }
            try check(rules, allowed: ["api_scopes", "kafka"], at: "inline_specs.")
            if let scopes = rules["api_scopes"] {
                policy.inlineSpecScopes = []
                for name in try strings(scopes, at: "inline_specs.api_scopes") {
                    guard let scope = APIScope(rawValue: name) else {
                        throw SpecPolicyError(
                            "inline_specs.api_scopes: unknown scope '\(name.prefix(40))'; scopes are "
                                + APIScope.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    policy.inlineSpecScopes.insert(scope)
                }
            }
            if let kafka = rules["kafka"] {
                guard case .bool(let allowed) = kafka else {
                    throw SpecPolicyError("inline_specs.kafka must be true or false")
                }
                policy.inlineSpecsOnKafka = allowed
            }
        }
        if let prefixes = root["entrypoint_prefixes"] {
            policy.entrypointPrefixes = try strings(prefixes, at: "entrypoint_prefixes")
            guard policy.entrypointPrefixes?.contains("") == false else {
                throw SpecPolicyError("entrypoint_prefixes: an empty prefix allows every entrypoint; leave the key out")
            }
        }
        if let images = root["images"] { policy.images = try strings(images, at: "images") }
        if let keys = root["runtime_env_keys"] {
            policy.runtimeEnvKeys = Set(try strings(keys, at: "runtime_env_keys"))
        }
        return policy
    }

    private static func check(_ object: [String: JSONValue], allowed: Set<String>, at path: String)
        throws(SpecPolicyError)
    {
        if let key = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SpecPolicyError(
                "unknown key '\(path)\(key.prefix(60))'; known: "
                    + allowed.sorted().map { path + $0 }.joined(separator: ", "))
        }
    }

    private static func strings(_ value: JSONValue, at path: String) throws(SpecPolicyError) -> [String] {
        guard case .array(let items) = value else { throw SpecPolicyError("\(path) must be a list of strings") }
        guard items.count <= 200 else { throw SpecPolicyError("\(path): at most 200 entries") }
        var strings: [String] = []
        for item in items {
            guard case .string(let text) = item, text.utf8.count <= 500 else {
                throw SpecPolicyError("\(path) must be a list of strings of at most 500 bytes")
            }
            strings.append(text)
        }
        return strings
    }
}
