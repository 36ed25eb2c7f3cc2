import Yams

extension SpecReader {
    // MARK: - Scalars

    /// A mapping by key; a key outside `allowed` is a problem (the value is still returned).
    mutating func mapping(_ node: Node, path: String, allowed: Set<String>) -> [String: Node]? {
        guard case .mapping(let map) = node else {
            issue(node, path, "must be a mapping")
            return nil
        }
        guard charge(map.count, at: node) else { return nil }
        var result: [String: Node] = [:]
        for (keyNode, value) in map {
            let key = keyNode.scalar?.string ?? ""
            if !allowed.contains(key) {
                let field = path.isEmpty ? key : "\(path).\(key)"
                issue(keyNode, field, "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            result[key] = value
        }
        return result
    }

    /// A scalar's text.
    mutating func string(_ node: Node, path: String) -> String? {
        guard let scalar = node.scalar else {
            issue(node, path, "must be a string")
            return nil
        }
        return scalar.string
    }

    /// `true` or `false`.
    mutating func bool(_ node: Node, path: String) -> Bool? {
        guard let value = node.bool else {
            issue(node, path, "must be true or false")
            return nil
        }
        return value
    }

    /// A finite, non-negative number.
    mutating func number(_ node: Node, path: String) -> Double? {
        if let value = node.float, !value.isFinite {
            issue(node, path, "\(node.scalar?.string ?? "") is not a finite number; JSON cannot carry it")
            return nil
        }
        guard let value = node.float, value >= 0 else {
            issue(node, path, "must be a non-negative number")
            return nil
        }
        return value
    }

    /// A list of scalars' texts.
    mutating func stringList(_ node: Node, path: String) -> [String] {
        guard case .sequence(let sequence) = node else {
            issue(node, path, "must be a list")
            return []
        }
        guard charge(sequence.count, at: node) else { return [] }
        return sequence.compactMap { string($0, path: path) }
    }

    /// A duration such as `30s` or `1h30m`.
    mutating func duration(_ node: Node, path: String) -> Duration? {
        guard let text = node.scalar?.string, let value = DurationParsing.parse(text) else {
            issue(node, path, "'\(node.scalar?.string ?? "")' is not a duration (e.g. 30s, 5m, 2h, 1h30m)")
            return nil
        }
        return value
    }

    /// Records a problem unless `name` is a valid name (``isValidName(_:)``).
    mutating func checkName(_ name: String, node: Node, path: String) {
        if !Self.isValidName(name) {
            issue(
                node, path, "'\(name)' must be lower-case letters, digits, '-' or '_', starting with a letter (max 63)")
        }
    }

    /// Names of pipelines, params, stages and pools: `[a-z][a-z0-9_-]{0,62}`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.unicodeScalars.count <= 63 else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }
    }
}
