/// Why a pipeline spec was rejected: one or more problems, each naming where it is.
public struct SpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One problem in a spec.
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        /// 1-based line in the YAML, when known.
        public var line: Int?
        /// Where in the spec, e.g. `stages[2] (sft).needs`.
        public var path: String
        /// What is wrong and, where it helps, what to do.
        public var message: String

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

    /// Every problem found, in document order.
    public var issues: [Issue]

    public init(issues: [Issue]) {
        self.issues = issues
    }

    /// A single-problem error.
    public init(line: Int? = nil, path: String = "", _ message: String) {
        self.issues = [Issue(line: line, path: path, message: message)]
    }

    public var description: String {
        issues.count == 1
            ? "invalid pipeline spec: \(issues[0])"
            : "invalid pipeline spec (\(issues.count) problems): " + issues.map(\.description).joined(separator: "; ")
    }
}
