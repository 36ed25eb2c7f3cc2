import Foundation

/// How commands print JSON: pretty, keys sorted, dates in ISO 8601.
public enum JSONOutput {
    /// `value` as indented JSON with sorted keys.
    public static func render(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
