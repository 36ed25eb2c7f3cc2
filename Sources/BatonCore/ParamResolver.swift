/// Resolves a request's params against a pipeline's declared params.
public enum ParamResolver {
    /// A param that is unknown, missing or of the wrong type.
    public struct ParamError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, naming the param.
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
            let names = declared.keys.sorted()
            let listed = names.prefix(20).joined(separator: ", ") + (names.count > 20 ? ", …" : "")
            throw ParamError(
                message: "unknown param '\(RequestLimits.quoted(name))' (declared: \(names.isEmpty ? "none" : listed))")
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
    /// A `number` is always finite: `.nan`, `inf` or `1e400` (as a value or as text) is refused,
    /// since JSON cannot carry it and the run's params must encode.
    ///
    /// - Throws: `ParamError` saying what was expected (quoting at most an excerpt of the value).
    public static func coerce(_ value: JSONValue, to spec: ParamSpec, name: String) throws(ParamError) -> JSONValue {
        if spec.type == .number, let number = Self.number(value), !number.isFinite {
            throw ParamError(
                message: "param '\(name)': \(RequestLimits.quoted(value.plainText)) is not a finite number; "
                    + "JSON cannot carry it")
        }
        let converted: JSONValue?
        switch (spec.type, value) {
        case (.string, .string): converted = value
        case (.string, .int), (.string, .double), (.string, .bool): converted = .string(value.plainText)
        case (.integer, .int): converted = value
        case (.integer, .double(let number)) where number.rounded() == number && abs(number) < 9e15:
            converted = .int(Int64(number))
        case (.integer, .string(let text)): converted = Int64(text).map(JSONValue.int)
        case (.number, .double(let number)) where number.isFinite: converted = value
        case (.number, .int): converted = value
        case (.number, .string(let text)): converted = Double(text).flatMap { $0.isFinite ? .double($0) : nil }
        case (.boolean, .bool): converted = value
        case (.boolean, .string(let text)): converted = ["true": true, "false": false][text].map(JSONValue.bool)
        case (.object, .object), (.array, .array): converted = value
        default: converted = nil
        }
        guard let converted else {
            let got = RequestLimits.quoted(value.description)
            throw ParamError(message: "param '\(name)' must be of type \(spec.type.rawValue), got \(got)")
        }
        if !spec.allowed.isEmpty,
            !spec.allowed.contains(where: {
                $0 == converted || $0.numberValue == converted.numberValue && $0.numberValue != nil
            })
        {
            let allowed = spec.allowed.map(\.description).joined(separator: ", ")
            throw ParamError(
                message: "param '\(name)' must be one of \(allowed), got \(RequestLimits.quoted(converted.description))"
            )
        }
        return converted
    }

    /// The number a value stands for, read as a `number` param reads it (text included).
    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .double(let number): number
        case .string(let text): Double(text)
        default: nil
        }
    }
}

extension JSONValue {
    /// The value as a user would type it on a command line (strings unquoted).
    public var plainText: String {
        if case .string(let text) = self { return text }
        return description
    }
}
