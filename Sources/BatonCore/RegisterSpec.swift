/// What a `register` stage registers: `register: {model, artifact, alias}` of the spec.
///
/// `artifact` names an upstream stage's declared output (`stages.<stage>.outputs.<output>`); the
/// version registered is the artifact that stage's succeeded attempt of the run produced.
public struct RegisterSpec: Sendable, Hashable {
    /// The alias a registration moves when the spec names none.
    public static let defaultAlias = "candidate"

    /// The registered model's name (`[A-Za-z0-9][A-Za-z0-9._-]{0,127}`).
    public var model: String
    /// The stage whose output is registered.
    public var stage: String
    /// The declared output of `stage` that is registered.
    public var output: String
    /// The alias moved to the new version. Default: ``defaultAlias``.
    public var alias: String

    /// A registration's settings.
    public init(model: String, stage: String, output: String, alias: String = Self.defaultAlias) {
        self.model = model
        self.stage = stage
        self.output = output
        self.alias = alias
    }

    /// A problem in a `register:` mapping: the field and what is wrong with it.
    public struct Issue: Sendable, Hashable {
        /// `model`, `artifact`, `alias`, or empty for the mapping itself.
        public var field: String
        /// What is wrong, as a sentence fragment after the field.
        public var message: String
    }

    /// Reads a `register:` mapping as the spec reader keeps it.
    ///
    /// - Returns: the spec, or every problem found (unknown fields, missing or malformed values).
    ///   Whether the artifact's stage is upstream and declares the output is checked by the spec
    ///   reader, which knows the DAG.
    public static func read(_ value: JSONValue?) -> Result<RegisterSpec, RegisterSpecIssues> {
        guard case .object(let fields) = value else {
            return .failure(
                RegisterSpecIssues(issues: [
                    Issue(field: "", message: "is required for kind 'register': {model, artifact, alias}")
                ]))
        }
        var issues: [Issue] = []
        let allowed: Set<String> = ["model", "artifact", "alias"]
        for key in fields.keys.sorted() where !allowed.contains(key) {
            issues.append(Issue(field: key, message: "unknown field (allowed: alias, artifact, model)"))
        }
        var model = ""
        if case .string(let text) = fields["model"], isValidModelName(text) {
            model = text
        } else {
            issues.append(
                Issue(
                    field: "model",
                    message: "must be a model name: letters, digits, '.', '_' or '-', starting with a letter or "
                        + "digit (max 128)"))
        }
        var stage = ""
        var output = ""
        let parts: [String]
        if case .string(let text) = fields["artifact"] {
            parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        } else {
            parts = []
        }
        if parts.count == 4, parts[0] == "stages", parts[2] == "outputs", !parts[1].isEmpty, !parts[3].isEmpty {
            stage = parts[1]
            output = parts[3]
        } else {
            issues.append(Issue(field: "artifact", message: "must be stages.<stage>.outputs.<output>"))
        }
        var alias = defaultAlias
        if let aliasValue = fields["alias"] {
            if case .string(let text) = aliasValue, isValidAlias(text) {
                alias = text
            } else {
                issues.append(
                    Issue(
                        field: "alias",
                        message: "must be lower-case letters, digits, '_' or '-', starting with a letter (max 64)"))
            }
        }
        guard issues.isEmpty else { return .failure(RegisterSpecIssues(issues: issues)) }
        return .success(RegisterSpec(model: model, stage: stage, output: output, alias: alias))
    }

    /// Registered model names: `[A-Za-z0-9][A-Za-z0-9._-]{0,127}` (the `models` table's check).
    public static func isValidModelName(_ name: String) -> Bool {
        let scalars = name.unicodeScalars
        guard let first = scalars.first, isAlphanumeric(first), scalars.count <= 128 else { return false }
        return scalars.allSatisfy { isAlphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// Alias names: `[a-z][a-z0-9_-]{0,63}` (the `model_aliases` table's check).
    public static func isValidAlias(_ alias: String) -> Bool {
        let scalars = alias.unicodeScalars
        guard let first = scalars.first, ("a"..."z").contains(first), scalars.count <= 64 else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}

/// The problems of a `register:` mapping.
public struct RegisterSpecIssues: Error, Sendable, Hashable {
    /// Every problem found, in field order.
    public var issues: [RegisterSpec.Issue]
}
