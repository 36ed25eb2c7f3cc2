/// Resolves a request's params against a pipeline's declared params.
public enum ParamResolver {
    /// A param that is unknown, missing or of the wrong type.
    public struct ParamError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The run's params: every declared param, from the request or else its default.
    ///
    /// - Parameter requested: values from the request; strings are converted to the declared
    ///   type (so `--param epochs=3` works), other JSON values must already fit.
    /// - Throws: `ParamError` for an unknown param, a missing required one, or a wrong type.
    public static func resolve(
        _ requested: [String: JSONValue], declared: [String: ParamSpec]
    ) throws(ParamError) -> [String: JSONValue] {
        for name in requested.keys.sorted() where declared[name] == nil {
            let known = declared.keys.sorted().joined(separator: ", ")
            throw ParamError(message: "unknown param '\(name)' (declared: \(known.isEmpty ? "none" : known))")
        }
        var resolved: [String: JSONValue] = [:]
        for (name, spec) in declared {
            if let value = requested[name] {
                resolved[name] = try coerce(value, to: spec, name: name)
            } else if let value = spec.defaultValue {
                resolved[name] = value
            } else {
                throw ParamError(message: "param '\(name)' is required (type \(spec.type.rawValue)) and has no default")
            }
        }
        return resolved
    }

    /// Converts a value to the param's type, checking the allowed values.
    ///
    /// - Throws: `ParamError` saying what was expected.
    public static func coerce(_ value: JSONValue, to spec: ParamSpec, name: String) throws(ParamError) -> JSONValue {
        let converted: JSONValue?
        switch (spec.type, value) {
        case (.string, .string): converted = value
        case (.string, .int), (.string, .double), (.string, .bool): converted = .string(value.plainText)
        case (.integer, .int): converted = value
        case (.integer, .double(let number)) where number.rounded() == number && abs(number) < 9e15:
            converted = .int(Int64(number))
        case (.integer, .string(let text)): converted = Int64(text).map(JSONValue.int)
        case (.number, .double), (.number, .int): converted = value
        case (.number, .string(let text)): converted = Double(text).flatMap { $0.isFinite ? .double($0) : nil }
        case (.boolean, .bool): converted = value
        case (.boolean, .string(let text)): converted = ["true": true, "false": false][text].map(JSONValue.bool)
        case (.object, .object), (.array, .array): converted = value
        default: converted = nil
        }
        guard let converted else {
            throw ParamError(message: "param '\(name)' must be of type \(spec.type.rawValue), got \(value.description)")
        }
        if !spec.allowed.isEmpty,
            !spec.allowed.contains(where: {
                $0 == converted || $0.numberValue == converted.numberValue && $0.numberValue != nil
            })
        {
            let allowed = spec.allowed.map(\.description).joined(separator: ", ")
            throw ParamError(message: "param '\(name)' must be one of \(allowed), got \(converted.description)")
        }
        return converted
    }
}

extension JSONValue {
    /// The value as a user would type it on a command line (strings unquoted).
    public var plainText: String {
        if case .string(let text) = self { return text }
        return description
    }
}
