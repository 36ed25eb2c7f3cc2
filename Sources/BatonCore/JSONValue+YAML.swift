import Yams

/// Why a YAML node has no JSON value.
public struct YAMLValueError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. `.inf is not a finite number; JSON cannot carry it`.
    public var problem: String
    /// Where below the node that was read, e.g. `limits.max` or `[2].lr`; empty for that node.
    public var path: String
    /// 1-based line of the offending node, when known.
    public var line: Int?
    /// Whether the walk stopped because the value expands past its node or byte budget (what a
    /// YAML alias bomb does), rather than for something in the value.
    public var isOverBudget: Bool

    init(_ problem: String, node: Node, isOverBudget: Bool = false) {
        self.problem = problem
        self.path = ""
        self.line = node.mark?.line
        self.isOverBudget = isOverBudget
    }

    /// The problem, after the path where it was found.
    public var message: String { path.isEmpty ? problem : "\(path): \(problem)" }

    public var description: String { message }

    /// The same error, one level further out: `component` is a mapping key or `[index]`.
    func within(_ component: String) -> YAMLValueError {
        var error = self
        error.path = component + (path.isEmpty || path.hasPrefix("[") ? path : ".\(path)")
        return error
    }
}

/// What a walk over YAML nodes may still read.
///
/// Yams resolves an alias to the node of its anchor, so a walk reads that node once per use;
/// counting every node and scalar byte read is what bounds a small document full of aliases.
struct YAMLValueBudget: Sendable {
    /// Nodes left to read. Default: ``SpecLimits/maxNodes``.
    var nodes = SpecLimits.maxNodes
    /// Scalar bytes (keys and values) left to read. Default: ``SpecLimits/maxExpandedBytes``.
    var bytes = SpecLimits.maxExpandedBytes

    /// Takes `count` nodes; false when the budget is spent.
    mutating func takeNodes(_ count: Int) -> Bool {
        nodes -= count
        return nodes >= 0
    }

    /// Takes `count` scalar bytes; false when the budget is spent.
    mutating func takeBytes(_ count: Int) -> Bool {
        bytes -= count
        return bytes >= 0
    }

    /// Why the walk stopped, for a spec that spent this budget.
    static var nodesProblem: String {
        "expands to more than \(SpecLimits.maxNodes) YAML nodes (each use of an alias counts its whole value); "
            + "the limit is \(SpecLimits.maxNodes): write the values out or use fewer aliases"
    }

    static var bytesProblem: String {
        "expands to more than \(SpecLimits.maxExpandedBytes) bytes of text (each use of an alias counts its whole "
            + "value); the limit is \(SpecLimits.maxExpandedBytes) bytes"
    }
}

extension JSONValue {
    /// The JSON value of a YAML node, keeping quoted scalars as strings.
    ///
    /// A scalar is a number, boolean or null only when YAML resolves it so as a plain scalar
    /// (`"1"` stays the string `1`, as Kubernetes string maps need). The walk is bounded: at most
    /// ``SpecLimits/maxNodes`` nodes and ``SpecLimits/maxExpandedBytes`` bytes of text, counting
    /// each use of an alias anew, and at most ``SpecLimits/maxDepth`` levels.
    ///
    /// - Throws: `YAMLValueError` naming where below `node` the problem is: a non-finite number
    ///   (`.nan`, `.inf`: JSON cannot carry it), a NUL character (PostgreSQL cannot store it),
    ///   a key that is not a string, or a value over the bounds.
    public init(yaml node: Node) throws(YAMLValueError) {
        var budget = YAMLValueBudget()
        self = try Self.read(node, depth: 0, budget: &budget)
    }

    /// The JSON value of a YAML node, spending `budget` (shared by every value of one document).
    init(yaml node: Node, budget: inout YAMLValueBudget) throws(YAMLValueError) {
        self = try Self.read(node, depth: 0, budget: &budget)
    }

    private static func read(_ node: Node, depth: Int, budget: inout YAMLValueBudget) throws(YAMLValueError)
        -> JSONValue
    {
        guard depth < SpecLimits.maxDepth else {
            throw YAMLValueError(
                "nests more than \(SpecLimits.maxDepth) levels deep; the limit is \(SpecLimits.maxDepth)", node: node)
        }
        guard budget.takeNodes(1) else {
            throw YAMLValueError(YAMLValueBudget.nodesProblem, node: node, isOverBudget: true)
        }
        switch node {
        case .scalar(let scalar):
            guard budget.takeBytes(scalar.string.utf8.count) else {
                throw YAMLValueError(YAMLValueBudget.bytesProblem, node: node, isOverBudget: true)
            }
            return try scalarValue(node, text: scalar.string)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for (index, item) in sequence.enumerated() {
                do {
                    items.append(try read(item, depth: depth + 1, budget: &budget))
                } catch {
                    throw error.within("[\(index)]")
                }
            }
            return .array(items)
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, item) in mapping {
                guard let name = key.scalar?.string else {
                    throw YAMLValueError("a mapping key is not a string", node: key)
                }
                guard budget.takeBytes(name.utf8.count) else {
                    throw YAMLValueError(YAMLValueBudget.bytesProblem, node: key, isOverBudget: true)
                }
                guard !name.utf8.contains(0) else {
                    throw YAMLValueError("a key contains a NUL character, which cannot be stored", node: key)
                }
                do {
                    object[name] = try read(item, depth: depth + 1, budget: &budget)
                } catch {
                    throw error.within(name)
                }
            }
            return .object(object)
        case .alias:
            throw YAMLValueError("YAML aliases are not supported; write the value out", node: node)
        }
    }

    private static func scalarValue(_ node: Node, text: String) throws(YAMLValueError) -> JSONValue {
        switch node.tag.rawValue {
        case Tag.Name.null.rawValue:
            return .null
        case Tag.Name.bool.rawValue:
            return node.bool.map(JSONValue.bool) ?? .string(text)
        case Tag.Name.int.rawValue:
            return node.int.map { .int(Int64($0)) } ?? .string(text)
        case Tag.Name.float.rawValue:
            guard let number = node.float else { return .string(text) }
            guard number.isFinite else {
                throw YAMLValueError("\(text) is not a finite number; JSON cannot carry it", node: node)
            }
            return .double(number)
        default:
            guard !text.utf8.contains(0) else {
                throw YAMLValueError("contains a NUL character, which cannot be stored", node: node)
            }
            return .string(text)
        }
    }
}
