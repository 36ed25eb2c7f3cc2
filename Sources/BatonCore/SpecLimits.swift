/// Bounds on a pipeline spec, checked while it is read, so that no spec costs more than these
/// to parse, store or send, whatever it holds.
///
/// YAML aliases make one node be read once per use, so a spec under 1 KiB can stand for a
/// billion nodes; the node and byte budgets count every use, which is what bounds such a spec.
public enum SpecLimits {
    /// The largest spec, in UTF-8 bytes. Default: 256 KiB.
    public static let maxBytes = 256 * 1024
    /// The most stages a pipeline may have. Default: 200.
    public static let maxStages = 200
    /// The most params a pipeline may declare. Default: 256 (as many as a request may give).
    public static let maxParams = 256
    /// The most YAML nodes read in one spec, counting each use of an alias anew. Default: 100,000.
    public static let maxNodes = 100_000
    /// The most bytes of scalar text (keys and values) read in one spec, counting each use of an
    /// alias anew: twice the largest spec, so a stage's values always fit in one event.
    /// Default: 512 KiB.
    public static let maxExpandedBytes = 2 * maxBytes
    /// The deepest a value (a param default, stage params, a gate) may nest. Default: 64.
    public static let maxDepth = 64
    /// The most problems a rejection lists; the rest are counted ("… and 812 more"). Default: 20.
    public static let maxListedIssues = 20
    /// The most problems kept while reading; the rest are only counted. Default: 100.
    public static let maxKeptIssues = 100
    /// The longest one problem is written, in UTF-8 bytes. Default: 512.
    public static let maxIssueBytes = 512
}
