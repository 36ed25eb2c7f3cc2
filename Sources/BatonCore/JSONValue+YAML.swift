import Yams

/// Why a YAML node has no JSON value.
public struct YAMLValueError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension JSONValue {
    /// The JSON value of a YAML node, keeping quoted scalars as strings.
    ///
    /// A scalar is a number, boolean or null only when YAML resolves it so as a plain scalar
    /// (`"1"` stays the string `1`, as Kubernetes string maps need).
    ///
    /// - Throws: `YAMLValueError` for an alias (write the value out) or a key that is not a string.
    public init(yaml node: Node) throws(YAMLValueError) {
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: self = .null
            case Tag.Name.bool.rawValue: self = node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue: self = node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case Tag.Name.float.rawValue: self = node.float.map(JSONValue.double) ?? .string(scalar.string)
            default: self = .string(scalar.string)
            }
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence { items.append(try JSONValue(yaml: item)) }
            self = .array(items)
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, item) in mapping {
                guard let name = key.scalar?.string else {
                    throw YAMLValueError(message: "a mapping key is not a string")
                }
                object[name] = try JSONValue(yaml: item)
            }
            self = .object(object)
        case .alias:
            throw YAMLValueError(message: "YAML aliases are not supported; write the value out")
        }
    }
}
