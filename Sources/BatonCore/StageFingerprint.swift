import Crypto
import Foundation

/// What the result of a stage attempt depends on. Two attempts with equal ingredients compute
/// the same outputs, so a succeeded one can stand in for running the other (the cache).
///
/// The fingerprint is a hash of the ingredients in canonical JSON; the ingredients themselves
/// are stored with each attempt so that `baton cache explain` can name the one that changed.
public struct StageFingerprint: Sendable, Hashable, Codable {
    /// The Ray entrypoint, as written.
    public var entrypoint: String
    /// Digest of the job's code: `sha256:<hex>` of a local working_dir's files, or the URI of a
    /// remote package; `nil` without a working_dir.
    public var code: String?
    /// The spec's runtime_env without `working_dir` (the code digest covers it).
    public var runtimeEnv: [String: JSONValue]
    /// The params the job receives.
    public var params: [String: JSONValue]
    /// Each input's content hash (md5), or its URI when no hash is known.
    public var inputs: [String: String]
    /// The outputs the stage declares.
    public var outputs: [String]

    /// Ingredients with the given fields; drops `working_dir` from `runtimeEnv` and sorts `outputs`.
    public init(
        entrypoint: String, code: String?, runtimeEnv: [String: JSONValue], params: [String: JSONValue],
        inputs: [String: String], outputs: [String]
    ) {
        self.entrypoint = entrypoint
        self.code = code
        self.runtimeEnv = runtimeEnv.filter { $0.key != "working_dir" }
        self.params = params
        self.inputs = inputs
        self.outputs = outputs.sorted()
    }

    enum CodingKeys: String, CodingKey {
        case entrypoint, code, params, inputs, outputs
        case runtimeEnv = "runtime_env"
    }

    /// The ingredients as canonical JSON: sorted keys, no insignificant whitespace.
    public func canonicalJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and dictionaries cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }

    /// `sha256:<hex>` of the canonical JSON.
    public var digest: String {
        "sha256:" + SHA256.hash(data: canonicalJSON()).lowercaseHex
    }

    /// What differs from `other`, one readable line per ingredient, e.g.
    /// `param learning_rate: 0.0002 -> 0.0003` or `input dataset: md5 1f3e... -> 9ac0...`.
    public func differences(from other: StageFingerprint) -> [String] {
        var lines: [String] = []
        if entrypoint != other.entrypoint {
            lines.append("entrypoint: \(Self.quote(other.entrypoint)) -> \(Self.quote(entrypoint))")
        }
        if code != other.code {
            lines.append("code: \(Self.short(other.code)) -> \(Self.short(code))")
        }
        lines += Self.changes("runtime_env", from: other.runtimeEnv, to: runtimeEnv) { $0.description }
        lines += Self.changes("param", from: other.params, to: params) { $0.description }
        lines += Self.changes("input", from: other.inputs, to: inputs) { Self.short($0) }
        if outputs != other.outputs {
            lines.append("outputs: [\(other.outputs.joined(separator: ", "))] -> [\(outputs.joined(separator: ", "))]")
        }
        return lines
    }

    private static func changes<Value: Equatable>(
        _ label: String, from old: [String: Value], to new: [String: Value], render: (Value) -> String
    ) -> [String] {
        Set(old.keys).union(new.keys).sorted().compactMap { key in
            switch (old[key], new[key]) {
            case (let before?, let after?) where before != after:
                "\(label) \(key): \(render(before)) -> \(render(after))"
            case (nil, let after?):
                "\(label) \(key): added (\(render(after)))"
            case (let before?, nil):
                "\(label) \(key): removed (was \(render(before)))"
            default:
                nil
            }
        }
    }

    private static func quote(_ text: String) -> String { "'\(text.prefix(120))'" }

    /// Hashes shortened to their first 12 hex digits; other text (URIs) as is.
    private static func short(_ text: String?) -> String {
        guard let text else { return "none" }
        if text.hasPrefix("sha256:") { return String(text.prefix(19)) + "..." }
        let folder = text.hasSuffix(".dir")
        let hex = folder ? text.dropLast(4) : Substring(text)
        guard hex.count == 32, hex.allSatisfy(\.isHexDigit) else { return text }
        return "md5 " + hex.prefix(12) + (folder ? "....dir" : "...")
    }
}
