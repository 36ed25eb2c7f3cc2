import Yams

extension SpecReader {
    // MARK: - The body of a `ray` stage

    /// `ray: {entrypoint, runtime_env, resources}`; `nil` when it has a problem.
    mutating func readRay(_ node: Node, path: String) -> RayStageSpec? {
        guard let map = mapping(node, path: path, allowed: ["entrypoint", "runtime_env", "resources"]) else {
            return nil
        }
        guard let entrypoint = map["entrypoint"].flatMap({ string($0, path: "\(path).entrypoint") }),
            !entrypoint.isEmpty
        else {
            issue(map["entrypoint"] ?? node, "\(path).entrypoint", "is required")
            return nil
        }
        var runtimeEnv: [String: JSONValue] = [:]
        if let envNode = map["runtime_env"] {
            switch value(envNode, path: "\(path).runtime_env") {
            case .object(let object): runtimeEnv = object
            case nil: break
            default: issue(envNode, "\(path).runtime_env", "must be a mapping")
            }
        }
        var resources = ResourceSpec()
        if let resourcesNode = map["resources"],
            let fields = mapping(
                resourcesNode, path: "\(path).resources", allowed: ["cpus", "gpus", "memory", "custom"])
        {
            resources.cpus = fields["cpus"].flatMap { number($0, path: "\(path).resources.cpus") }
            resources.gpus = fields["gpus"].flatMap { number($0, path: "\(path).resources.gpus") }
            if let memoryNode = fields["memory"] {
                if let bytes = Self.bytes(memoryNode.scalar?.string ?? "") {
                    resources.memory = bytes
                } else {
                    issue(memoryNode, "\(path).resources.memory", "must be bytes or a size such as 512Mi, 8Gi")
                }
            }
            if let customNode = fields["custom"], case .mapping(let custom) = customNode,
                charge(custom.count, at: customNode)
            {
                for (key, value) in custom {
                    let name = key.scalar?.string ?? ""
                    resources.custom[name] = number(value, path: "\(path).resources.custom.\(name)")
                }
            }
        }
        return RayStageSpec(entrypoint: entrypoint, runtimeEnv: runtimeEnv, resources: resources)
    }

    /// Bytes from a count (`536870912`) or a size with a binary or decimal suffix (`512Mi`, `8G`);
    /// `nil` unless positive.
    static func bytes(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("K", 1000), ("M", 1_000_000),
            ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ]
        for (suffix, size) in units where text.hasSuffix(suffix) {
            guard let amount = Int64(text.dropLast(suffix.count)), amount > 0 else { return nil }
            return amount * size
        }
        return Int64(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
