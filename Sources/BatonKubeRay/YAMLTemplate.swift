import BatonCore
import Yams

/// A YAML or JSON document read as a `JSONValue`, keeping quoted scalars as strings.
///
/// Kubernetes objects are full of string maps whose values look like numbers
/// (`rayStartParams: {num-cpus: "1"}`), so a scalar is a string unless YAML resolves it as
/// a plain int, float, bool or null.
enum YAMLTemplate {
    static func parse(_ text: String, origin: String) throws(KubernetesError) -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw .configuration("\(origin) is not valid YAML or JSON: \(error)")
        }
        guard let node else { throw .configuration("\(origin) is empty") }
        return try value(node, origin: origin)
    }

    private static func value(_ node: Node, origin: String) throws(KubernetesError) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue: return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case Tag.Name.float.rawValue: return node.float.map(JSONValue.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence { items.append(try value(item, origin: origin)) }
            return .array(items)
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, item) in mapping {
                guard let name = key.string else { throw .configuration("\(origin) has a key that is not a string") }
                object[name] = try value(item, origin: origin)
            }
            return .object(object)
        case .alias:
            throw .configuration("\(origin) uses a YAML alias; write the value out")
        }
    }
}
