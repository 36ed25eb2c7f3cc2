/// Why a pipeline spec (or a schedule) was rejected: one or more problems, each naming where it is.
public struct SpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One problem in a spec.
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        /// 1-based line in the YAML, when known.
        public var line: Int?
        /// Where in the spec, e.g. `stages[2] (sft).needs`.
        public var path: String
        /// What is wrong and, where it helps, what to do.
        public var message: String

        /// An issue with the given location and message.
        public init(line: Int?, path: String, message: String) {
            self.line = line
            self.path = path
            self.message = message
        }

        public var description: String {
            let location = line.map { "line \($0): " } ?? ""
            return path.isEmpty ? "\(location)\(message)" : "\(location)\(path): \(message)"
        }
    }

    /// The problems found, in document order (at most ``SpecLimits/maxKeptIssues`` of them).
    public var issues: [Issue]
    /// Problems found past those in ``issues``: counted, not kept.
    public var omittedIssueCount: Int
    /// What was read: `pipeline spec`, or `schedule`.
    public var subject = "pipeline spec"

    /// An error with the given issues and count of issues left out.
    public init(issues: [Issue], omittedIssueCount: Int = 0) {
        self.issues = issues
        self.omittedIssueCount = omittedIssueCount
    }

    /// A single-problem error.
    public init(line: Int? = nil, path: String = "", _ message: String) {
        self.issues = [Issue(line: line, path: path, message: message)]
        self.omittedIssueCount = 0
    }

    /// Every problem found, listed or counted.
    public var problemCount: Int { issues.count + omittedIssueCount }

    /// The problems, as a rejection reason shows them: at most ``SpecLimits/maxListedIssues``,
    /// each cut to ``SpecLimits/maxIssueBytes``, the whole under ``RequestLimits/maxReasonBytes``,
    /// then how many more there are.
    public var description: String {
        let total = problemCount
        let head = total == 1 ? "invalid \(subject): " : "invalid \(subject) (\(total) problems): "
        // Room for "; … and 99999999 more" after the listed problems.
        let budget = RequestLimits.maxReasonBytes - head.utf8.count - 32
        var listed: [String] = []
        var size = 0
        for issue in issues.prefix(SpecLimits.maxListedIssues) {
            let text = SafeText.make(issue.description, limit: SpecLimits.maxIssueBytes)
            guard size + text.utf8.count + 2 <= budget else { break }
            size += text.utf8.count + 2
            listed.append(text)
        }
        let more = total - listed.count
        let tail = more > 0 ? (listed.isEmpty ? "\(more) problems" : "; … and \(more) more") : ""
        return head + listed.joined(separator: "; ") + tail
    }
}
