import Yams

/// Parses and validates pipeline YAML into a `PipelineSpec`.
///
/// Every problem is reported with its line and path; the parser keeps going after the first
/// problem so that a user fixes a spec in one round trip.
public enum PipelineSpecParser {
    /// The largest spec accepted, in bytes: ``SpecLimits/maxBytes``.
    public static let maxSpecBytes = SpecLimits.maxBytes
    /// The most stages a pipeline may have: ``SpecLimits/maxStages``.
    public static let maxStages = SpecLimits.maxStages

    /// Parses and validates a spec.
    ///
    /// Reading is bounded by ``SpecLimits``: a spec that expands past its node or byte budget
    /// through YAML aliases is refused for that alone, before it costs more.
    ///
    /// - Throws: `SpecError` listing the problems found (the first ``SpecLimits/maxKeptIssues``,
    ///   and how many more).
    public static func parse(_ yaml: String) throws(SpecError) -> PipelineSpec {
        try read(yaml) { reader, root in reader.readPipeline(root) }
    }

    /// Reads a document of at most ``maxSpecBytes`` with `read`, throwing every problem it found.
    static func read<Value>(_ yaml: String, with read: (inout SpecReader, Node) -> Value?) throws(SpecError) -> Value {
        let root = try compose(yaml)
        var reader = SpecReader()
        let value = read(&reader, root)
        if let overBudget = reader.overBudget { throw SpecError(issues: [overBudget]) }
        guard reader.issues.isEmpty, reader.omittedIssueCount == 0, let value else {
            throw SpecError(issues: reader.issues, omittedIssueCount: reader.omittedIssueCount)
        }
        return value
    }

    /// The YAML tree of a spec of at most ``maxSpecBytes``.
    static func compose(_ yaml: String) throws(SpecError) -> Node {
        guard yaml.utf8.count <= maxSpecBytes else {
            throw SpecError("spec is \(yaml.utf8.count) bytes; the limit is \(maxSpecBytes)")
        }
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw SpecError("spec is empty") }
            return node
        } catch let error as SpecError {
            throw error
        } catch let error as YamlError {
            throw SpecError(line: Self.line(of: error), "not valid YAML: \(Self.summary(of: error))")
        } catch {
            throw SpecError("not valid YAML: \(error)")
        }

    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
            .composer(let context, let problem, _, _):
            [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
        default: String(describing: error)
        }
    }
}
