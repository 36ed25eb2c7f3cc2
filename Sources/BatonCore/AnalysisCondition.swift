import Foundation

/// A success condition: `result <op> <number>` with `>=`, `>`, `<=`, `<`, `==` or `!=`.
public struct AnalysisCondition: Sendable, Hashable, CustomStringConvertible {
    /// The comparison operator of a condition; the raw value is the operator as written.
    public enum Comparison: String, Sendable, Hashable, CaseIterable {
        case greaterOrEqual = ">="
        case lessOrEqual = "<="
        case notEqual = "!="
        case equal = "=="
        case greater = ">"
        case less = "<"
    }

    /// How the measured value is compared with `threshold`.
    public var comparison: Comparison
    /// The number the measured value is compared with.
    public var threshold: Double

    /// A condition `result <comparison> <threshold>`.
    public init(comparison: Comparison, threshold: Double) {
        self.comparison = comparison
        self.threshold = threshold
    }

    public var description: String { "result \(comparison.rawValue) \(threshold.formatted(.number.grouping(.never)))" }

    /// Whether a measured value satisfies the condition (NaN never does).
    public func holds(for value: Double) -> Bool {
        guard !value.isNaN else { return false }
        switch comparison {
        case .greaterOrEqual: return value >= threshold
        case .lessOrEqual: return value <= threshold
        case .notEqual: return value != threshold
        case .equal: return value == threshold
        case .greater: return value > threshold
        case .less: return value < threshold
        }
    }

    /// Why a condition text is refused.
    public struct ParseError: Error, Sendable, Hashable {
        /// What is wrong with the text, quoting it.
        public var message: String
    }

    /// Parses `result >= 0.95` (spaces optional).
    public static func parse(_ text: String) -> Result<AnalysisCondition, ParseError> {
        let shape = "must be 'result <op> <number>' with one of >=, >, <=, <, ==, != (got '\(text.prefix(100))')"
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("result") else { return .failure(ParseError(message: shape)) }
        let rest = trimmed.dropFirst("result".count).trimmingCharacters(in: .whitespaces)
        for comparison in Comparison.allCases where rest.hasPrefix(comparison.rawValue) {
            let number = rest.dropFirst(comparison.rawValue.count).trimmingCharacters(in: .whitespaces)
            guard let threshold = Double(number), threshold.isFinite else {
                return .failure(ParseError(message: shape))
            }
            return .success(AnalysisCondition(comparison: comparison, threshold: threshold))
        }
        return .failure(ParseError(message: shape))
    }
}
