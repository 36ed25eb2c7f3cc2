import Yams

extension SpecReader {
    // MARK: - Retries

    /// `retries:` of a stage or of `defaults`: a limit alone, or `{limit, backoff, factor, maxBackoff}`
    /// over `base`.
    mutating func readRetry(_ node: Node, path: String, base: RetryPolicy) -> RetryPolicy {
        var retry = base
        if let limit = node.int, node.scalar != nil {
            retry.limit = limit
        } else if let map = mapping(node, path: path, allowed: ["limit", "backoff", "factor", "maxBackoff"]) {
            if let limitNode = map["limit"] {
                if let limit = limitNode.int {
                    retry.limit = limit
                } else {
                    issue(limitNode, "\(path).limit", "must be an integer")
                }
            }
            if let backoff = map["backoff"], let value = duration(backoff, path: "\(path).backoff") {
                retry.initialBackoff = value
            }
            if let factorNode = map["factor"] {
                if let factor = factorNode.float, factor >= 1, factor <= 10 {
                    retry.factor = factor
                } else {
                    issue(factorNode, "\(path).factor", "must be a number from 1 to 10")
                }
            }
            if let maxNode = map["maxBackoff"], let value = duration(maxNode, path: "\(path).maxBackoff") {
                retry.maxBackoff = value
            }
        }
        if retry.limit < 0 || retry.limit > 100 { issue(node, "\(path).limit", "must be from 0 to 100") }
        return retry
    }
}
