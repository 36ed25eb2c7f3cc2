/// A table's size, as `baton bench lineage` reports it.
public struct TableSize: Sendable, Hashable, Codable {
    /// The planner's row estimate (`reltuples`); `nil` for the database as a whole.
    public var rows: Int64?
    /// Bytes on disk, indexes and TOAST included.
    public var bytes: Int64
}

/// The shape of an upstream closure: how many artifacts it holds and how deep it reaches.
public struct ClosureShape: Sendable, Hashable {
    /// Artifacts in the closure, the root included.
    public var nodes: Int
    /// The greatest depth of any of them.
    public var maxDepth: Int
}
