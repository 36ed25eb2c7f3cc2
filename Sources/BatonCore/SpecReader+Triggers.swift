import Yams

extension SpecReader {
    // MARK: - Triggers

    /// `triggers:`: each rule's name, alert, labels and params; params must be declared, and a
    /// param taken from a label must be a string.
    mutating func readTriggers(_ node: Node, params: [String: ParamSpec]) -> [AlertTrigger] {
        guard case .sequence(let sequence) = node else {
            issue(node, "triggers", "must be a list of {name, alert, labels, params, paramsFromLabels}")
            return []
        }
        guard sequence.count <= AlertTrigger.maxPerPipeline else {
            issue(node, "triggers", "has \(sequence.count) triggers; the limit is \(AlertTrigger.maxPerPipeline)")
            return []
        }
        var triggers: [AlertTrigger] = []
        for (index, item) in sequence.enumerated() {
            let path = "triggers[\(index)]"
            guard
                let fields = mapping(
                    item, path: path, allowed: ["name", "alert", "labels", "params", "paramsFromLabels"])
            else { continue }
            let name = fields["name"].flatMap { string($0, path: "\(path).name") } ?? ""
            checkName(name, node: fields["name"] ?? item, path: "\(path).name")
            if triggers.contains(where: { $0.name == name }) {
                issue(item, "\(path).name", "'\(name)' is used by an earlier trigger")
            }
            guard let alert = fields["alert"].flatMap({ string($0, path: "\(path).alert") }), !alert.isEmpty,
                alert.utf8.count <= 200
            else {
                issue(
                    fields["alert"] ?? item, "\(path).alert", "is required: the alertname to answer (at most 200 bytes)"
                )
                continue
            }
            let labels = stringMap(fields["labels"], path: "\(path).labels")
            var fixed: [String: JSONValue] = [:]
            if let paramsNode = fields["params"] {
                guard case .mapping(let map) = paramsNode, map.count <= AlertTrigger.maxEntries else {
                    issue(
                        paramsNode, "\(path).params", "must be a mapping of at most \(AlertTrigger.maxEntries) params")
                    continue
                }
                for (keyNode, valueNode) in map {
                    let param = keyNode.scalar?.string ?? ""
                    guard let spec = params[param] else {
                        issue(keyNode, "\(path).params.\(param)", "is not a param of the pipeline")
                        continue
                    }
                    guard let value = value(valueNode, path: "\(path).params.\(param)") else { continue }
                    do {
                        fixed[param] = try ParamResolver.coerce(value, to: spec, name: param)
                    } catch {
                        issue(valueNode, "\(path).params.\(param)", error.message)
                    }
                }
            }
            let fromLabels = stringMap(fields["paramsFromLabels"], path: "\(path).paramsFromLabels")
            for (param, _) in fromLabels where params[param]?.type != .string {
                issue(
                    fields["paramsFromLabels"] ?? item, "\(path).paramsFromLabels.\(param)",
                    params[param] == nil ? "is not a param of the pipeline" : "must be a string param (labels are text)"
                )
            }
            triggers.append(
                AlertTrigger(name: name, alert: alert, labels: labels, params: fixed, paramsFromLabels: fromLabels))
        }
        return triggers
    }

    /// A mapping of text to text of at most ``AlertTrigger/maxEntries`` entries, each at most
    /// 200 bytes; empty when `node` is absent.
    private mutating func stringMap(_ node: Node?, path: String) -> [String: String] {
        guard let node else { return [:] }
        guard case .mapping(let map) = node, map.count <= AlertTrigger.maxEntries else {
            issue(node, path, "must be a mapping of at most \(AlertTrigger.maxEntries) names to text")
            return [:]
        }
        var result: [String: String] = [:]
        for (keyNode, valueNode) in map {
            let key = keyNode.scalar?.string ?? ""
            guard !key.isEmpty, key.utf8.count <= 200, let value = string(valueNode, path: "\(path).\(key)"),
                value.utf8.count <= 200
            else {
                issue(valueNode, "\(path).\(key)", "must be text of at most 200 bytes")
                continue
            }
            result[key] = value
        }
        return result
    }
}
