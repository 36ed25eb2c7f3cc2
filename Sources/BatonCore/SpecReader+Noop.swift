import Yams

extension SpecReader {
    // MARK: - The body of a `noop` stage

    /// `noop: {sleep, fail_attempts, metrics}`: what a `noop` stage pretends to do.
    mutating func readNoop(_ node: Node, path: String) -> NoopStageSpec {
        var noop = NoopStageSpec()
        guard let map = mapping(node, path: path, allowed: ["sleep", "fail_attempts", "metrics"]) else { return noop }
        if let sleep = map["sleep"], let value = duration(sleep, path: "\(path).sleep") { noop.sleep = value }
        if let failNode = map["fail_attempts"] {
            if let count = failNode.int, count >= 0 {
                noop.failAttempts = count
            } else {
                issue(failNode, "\(path).fail_attempts", "must be a non-negative integer")
            }
        }
        if let metricsNode = map["metrics"] {
            if case .mapping(let metrics) = metricsNode, metrics.count <= 100 {
                for (key, value) in metrics {
                    let name = key.scalar?.string ?? ""
                    if let number = value.float, number.isFinite, !name.isEmpty {
                        noop.metrics[name] = number
                    } else {
                        issue(value, "\(path).metrics.\(name)", "must be a finite number")
                    }
                }
            } else {
                issue(metricsNode, "\(path).metrics", "must be a mapping of up to 100 metric keys to numbers")
            }
        }
        return noop
    }
}
