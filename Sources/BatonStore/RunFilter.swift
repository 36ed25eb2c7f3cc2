import BatonCore
import Foundation

/// Which runs a listing returns, and where a page starts.
public struct RunFilter: Sendable, Hashable {
    /// Only runs of this pipeline.
    public var pipeline: String?
    /// Only runs in this state.
    public var state: RunState?
    /// Only runs with every one of these labels.
    public var labels: [String: String] = [:]
    /// Only runs created at or after this time.
    public var createdAfter: Date?
    /// Only runs created before this time.
    public var createdBefore: Date?
    /// Continue after this run (the last of the previous page), newest first.
    public var cursor: RunCursor?

    public init() {}
}

/// A place in the newest-first list of runs: the creation time and id of the last run seen.
/// Opaque to clients, as a short base64url text.
public struct RunCursor: Sendable, Hashable {
    /// The last run's creation time, in microseconds since 1970 (PostgreSQL's precision).
    public var createdAtMicroseconds: Int64
    /// The last run's id.
    public var runID: UUID

    public init(createdAt: Date, runID: UUID) {
        createdAtMicroseconds = Int64((createdAt.timeIntervalSince1970 * 1_000_000).rounded())
        self.runID = runID
    }

    /// The cursor of `text`; nil when it is not one this store made.
    public init?(text: String) {
        guard text.utf8.count <= 100, let data = Base64URL.decode(text),
            let decoded = String(data: data, encoding: .utf8)
        else { return nil }
        let parts = decoded.split(separator: "/")
        guard parts.count == 2, let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else {
            return nil
        }
        (createdAtMicroseconds, runID) = (micros, id)
    }

    /// The opaque text of the cursor.
    public var text: String {
        Base64URL.encode(Data("\(createdAtMicroseconds)/\(runID.lowercased)".utf8))
    }
}
