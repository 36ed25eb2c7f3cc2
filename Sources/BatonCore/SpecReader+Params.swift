import Yams

extension SpecReader {
    // MARK: - Params

    /// `params:`: each declared param's type, default, allowed values and description.
    mutating func readParams(_ node: Node) -> [String: ParamSpec] {
        guard case .mapping(let map) = node else {
            issue(node, "params", "must be a mapping of param name to {type, default}")
            return [:]
        }
        guard map.count <= SpecLimits.maxParams else {
            issue(node, "params", "declares \(map.count) params; the limit is \(SpecLimits.maxParams)")
            return [:]
        }
        var params: [String: ParamSpec] = [:]
        for (keyNode, valueNode) in map {
            let name = keyNode.scalar?.string ?? ""
            let path = "params.\(name)"
            checkName(name, node: keyNode, path: path)
            guard let fields = mapping(valueNode, path: path, allowed: ["type", "default", "enum", "description"])
            else {
                continue
            }
            guard let typeText = fields["type"].flatMap({ string($0, path: "\(path).type") }),
                let type = ParamType(rawValue: typeText)
            else {
                let allowed = ParamType.allCases.map(\.rawValue).joined(separator: ", ")
                issue(fields["type"] ?? valueNode, "\(path).type", "must be one of \(allowed)")
                continue
            }
            var spec = ParamSpec(type: type)
            spec.description = fields["description"].flatMap { string($0, path: "\(path).description") }
            if let allowedNode = fields["enum"] {
                spec.allowed = (allowedNode.sequence.map(Array.init) ?? []).enumerated().map {
                    json($1, path: "\(path).enum[\($0)]")
                }
                if spec.allowed.isEmpty { issue(allowedNode, "\(path).enum", "must be a non-empty list") }
            }
            if let defaultNode = fields["default"], let value = value(defaultNode, path: "\(path).default") {
                do {
                    spec.defaultValue = try ParamResolver.coerce(value, to: spec, name: name)
                } catch {
                    issue(defaultNode, "\(path).default", error.message)
                }
            }
            params[name] = spec
        }
        return params
    }
}
