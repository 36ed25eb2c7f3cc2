import Foundation

/// An output a job reported: `::baton::output {"name":..,"uri":..,"md5":..,"size":..,"nfiles":..}`.
public struct JobOutput: Sendable, Hashable, Codable {
    /// The output's name, as the stage declares it.
    public var name: String
    /// Where the job wrote the output.
    public var uri: String
    /// MD5 of the content as DVC computes it (`<md5>.dir` for a folder); nil when the job reported none.
    public var md5: String?
    /// The content's size in bytes; nil when the job reported none.
    public var size: Int64?
    /// How many files a folder output holds; nil for a file or when the job reported none.
    public var nfiles: Int?
    /// What the artifact is (`dataset`, `model`, ...), as the job declared it; `nil` for a
    /// plain file or folder.
    public var kind: String?

    /// An output with the given fields.
    public init(
        name: String, uri: String, md5: String? = nil, size: Int64? = nil, nfiles: Int? = nil, kind: String? = nil
    ) {
        self.name = name
        self.uri = uri
        self.md5 = md5
        self.size = size
        self.nfiles = nfiles
        self.kind = kind
    }

    /// The artifact kind recorded in lineage: the declared one, else `directory` for a folder
    /// (a `.dir` hash or a file count) and `file` otherwise.
    public var artifactKind: String {
        kind ?? (md5?.hasSuffix(".dir") == true || nfiles != nil ? "directory" : "file")
    }

    /// Whether a declared kind is a short lowercase word, as the lineage tables require.
    static func isValidKind(_ kind: String) -> Bool {
        kind.utf8.count <= 32 && kind.first.map { $0.isASCII && $0.isLowercase } == true
            && kind.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" || $0 == "-" }
    }
}

/// A metric a job reported: `::baton::metric {"key":..,"value":..,"step":..}`.
public struct JobMetric: Sendable, Hashable, Codable {
    /// The metric's name, e.g. `eval_loss`.
    public var key: String
    /// The measured value; always finite in records read from a log.
    public var value: Double
    /// The training step the value was measured at; 0 when the record gives none.
    public var step: Int64

    /// A metric with the given fields.
    public init(key: String, value: Double, step: Int64 = 0) {
        self.key = key
        self.value = value
        self.step = step
    }

    enum CodingKeys: String, CodingKey { case key, value, step }

    /// Decodes a metric record; a missing `step` is 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        value = try container.decode(Double.self, forKey: .value)
        step = try container.decodeIfPresent(Int64.self, forKey: .step) ?? 0
    }
}

/// The `::baton::` records in a job's log, and the lines that could not be read.
public struct JobRecords: Sendable, Hashable {
    /// The outputs reported, in the order first seen, the last record of each name winning.
    public var outputs: [JobOutput] = []
    /// Every metric reported, each step kept, in log order.
    public var metrics: [JobMetric] = []
    /// Malformed record lines, with why, so a broken job helper is visible rather than silent.
    public var problems: [String] = []

    /// The most records read from one log (a runaway job cannot flood the database).
    public static let maxRecords = 100_000

    /// No records.
    public init() {}

    /// Reads every `::baton::output` and `::baton::metric` line of a job log.
    ///
    /// A later output with the same name replaces an earlier one; metrics keep every step.
    public init(log: String) {
        var outputs: [String: JobOutput] = [:]
        var order: [String] = []
        var count = 0
        for line in log.split(whereSeparator: \.isNewline) {
            guard let start = line.range(of: "::baton::") else { continue }
            count += 1
            guard count <= Self.maxRecords else {
                problems.append("more than \(Self.maxRecords) records; the rest were ignored")
                break
            }
            let record = line[start.upperBound...]
            let parts = record.split(separator: " ", maxSplits: 1)
            let kind = parts.first.map(String.init) ?? ""
            let json = parts.count > 1 ? String(parts[1]) : ""
            let decoder = JSONDecoder()
            do {
                switch kind {
                case "output":
                    let output = try decoder.decode(JobOutput.self, from: Data(json.utf8))
                    guard !output.name.isEmpty, output.name.utf8.count <= 200, output.uri.utf8.count <= 4096 else {
                        problems.append("output record with an empty or oversize name or uri")
                        continue
                    }
                    if let declared = output.kind, !JobOutput.isValidKind(declared) {
                        problems.append("output '\(output.name)' has a kind that is not a short lowercase word")
                        continue
                    }
                    if outputs[output.name] == nil { order.append(output.name) }
                    outputs[output.name] = output
                case "metric":
                    let metric = try decoder.decode(JobMetric.self, from: Data(json.utf8))
                    guard !metric.key.isEmpty, metric.key.utf8.count <= 250, metric.value.isFinite else {
                        problems.append("metric record with an empty key or a non-finite value")
                        continue
                    }
                    metrics.append(metric)
                default:
                    problems.append("unknown record kind '\(kind.prefix(40))'")
                }
            } catch {
                problems.append("unreadable \(kind.prefix(40)) record: \(json.prefix(120))")
            }
        }
        self.outputs = order.compactMap { outputs[$0] }
    }
}
