import Synchronization

/// The `endpoint` label of an outbound call's metrics: the method and the path with its
/// variable segments (ids, keys, names with digits) written `{}`, e.g.
/// `GET /api/jobs/{}`. Paths carry ids, so the label set is bounded twice: by the template,
/// and by at most ``limit`` distinct endpoints per service in one process (later ones are
/// `other`).
final class HTTPEndpointLabel: Sendable {
    /// The most distinct endpoints of one service; more are counted as `other`.
    static let limit = 64
    /// The longest path segment kept as it is.
    static let longestKept = 40

    private let seen = Mutex<[String: Set<String>]>([:])

    /// The label of `method path` to `service`.
    func label(service: String, method: String, path: String) -> String {
        let endpoint = Self.template(method: method, path: path)
        return seen.withLock { seen in
            if seen[service, default: []].contains(endpoint) { return endpoint }
            guard seen[service, default: []].count < Self.limit else { return "other" }
            seen[service, default: []].insert(endpoint)
            return endpoint
        }
    }

    /// `method` and `path` (query dropped) with each variable segment written `{}`.
    static func template(method: String, path: String) -> String {
        let bare = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let segments = bare.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            isVariable(segment) ? "{}" : String(segment)
        }
        return "\(method) \(segments.joined(separator: "/"))"
    }

    /// A segment that names one thing (an id, a key, a job) rather than a kind of thing: it has a
    /// digit, a capital, an escape or a `:`, or is long; API versions (`v1`, `v1beta1`, `2.0`)
    /// are kept.
    private static func isVariable(_ segment: Substring) -> Bool {
        if segment.count > longestKept { return true }
        if isVersion(segment) { return false }
        return segment.contains { $0.isNumber || $0.isUppercase || $0 == "%" || $0 == ":" || $0 == "=" }
    }

    /// `v` and digits, optionally followed by `alpha` or `beta` and digits (`v1`, `v1beta1`), or
    /// digit `.` digit (`2.0`). Read byte by byte: every outbound call computes its label, and a
    /// Swift `Regex` here was a sixth of the CPU of a serve mirroring runs to MLflow.
    private static func isVersion(_ segment: Substring) -> Bool {
        let bytes = Array(segment.utf8)
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        if bytes.count == 3, isDigit(bytes[0]), bytes[1] == UInt8(ascii: "."), isDigit(bytes[2]) { return true }
        guard bytes.first == UInt8(ascii: "v") else { return false }
        var index = 1
        func digits() -> Bool {
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            return index > start
        }
        guard digits() else { return false }
        if index == bytes.count { return true }
        for word in ["alpha", "beta"] where bytes[index...].starts(with: word.utf8) {
            index += word.utf8.count
            return digits() && index == bytes.count
        }
        return false
    }
}
