import Synchronization

/// Parsed specs by their text: the one way the engine and the store read a stored spec.
///
/// Every run of a pipeline stores the same spec, and the hot paths (a worker's claim, the
/// coordinator's outcome, a watcher's adoption) would otherwise parse the same YAML again for
/// every event. A worker reads the spec once per claim and hands it to the stage's executor.
/// Only the CLI parses a user's file directly (``PipelineSpecParser/parse(_:)``). Bounded: when
/// full it starts over.
public final class PipelineSpecCache: Sendable {
    /// The process-wide cache.
    public static let shared = PipelineSpecCache(capacity: 256)

    private let capacity: Int
    private let specs = Mutex<[String: PipelineSpec]>([:])

    /// A cache of at most `capacity` specs (at least one).
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The parsed spec; parse errors are not cached.
    public func spec(_ yaml: String) throws(SpecError) -> PipelineSpec {
        if let spec = specs.withLock({ $0[yaml] }) { return spec }
        let spec = try PipelineSpecParser.parse(yaml)
        specs.withLock { specs in
            if specs.count >= capacity { specs.removeAll(keepingCapacity: true) }
            specs[yaml] = spec
        }
        return spec
    }
}
