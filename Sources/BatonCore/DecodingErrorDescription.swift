/// Where JSON failed to decode, in words that name the field but never quote the input:
/// `missing field 'a.b'`, `wrong type at 'a'`, `not valid JSON`. Other errors as they describe
/// themselves.
public func describeDecodingError(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    switch error {
    case .keyNotFound(let key, let context):
        return "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
        return "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
    case .dataCorrupted(let context):
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? "not valid JSON" : "invalid value at '\(path)'"
    @unknown default:
        return "\(error)"
    }
}
