import Foundation

/// The bodies of `runs/log-batch` requests for one run, split to fit MLflow's limits.
///
/// MLflow refuses a batch with more than 1000 metrics, 100 params, 100 tags, 1000 entities in
/// all, or over 1 MB of JSON; this splits what is to be logged into as few requests as fit.
/// Param values longer than MLflow's 6000 characters (tags: 8000) are cut and end with
/// ``truncationMarker``. Keys are left as they are (MLflow refuses keys over 250 characters).
public struct MLflowBatch: Sendable {
    /// MLflow's limits on one `runs/log-batch` request.
    public struct Limits: Sendable {
        /// Metrics in one request. Default: 1000.
        public var metrics = 1000
        /// Params in one request. Default: 100.
        public var params = 100
        /// Tags in one request. Default: 100.
        public var tags = 100
        /// Metrics, params and tags together in one request. Default: 1000.
        public var entities = 1000
        /// Bytes of JSON in one request body. Default: 1 000 000.
        public var bytes = 1_000_000
        /// Characters of a param value. Default: 6000.
        public var paramValueLength = 6000
        /// Characters of a tag value. Default: 8000.
        public var tagValueLength = 8000

        /// MLflow's own limits.
        public init() {}
    }

    /// Ends a value that was cut to fit MLflow's length limit.
    public static let truncationMarker = "...[truncated by baton]"

    /// The JSON body of each request, in order: params first, so that a run shows its params
    /// before its metrics.
    public let bodies: [[UInt8]]

    /// Splits `metrics`, `params` and `tags` of run `runID` into request bodies.
    public init(
        runID: String, metrics: [MLflowMetric] = [], params: [MLflowParam] = [], tags: [MLflowTag] = [],
        limits: Limits = Limits()
    ) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        func encoded(_ value: some Encodable) -> [UInt8] {
            // Encoding these plain structs cannot fail.
            (try? Array(encoder.encode(value))) ?? []
        }
        let encodedParams = params.map {
            encoded(MLflowParam(key: $0.key, value: Self.truncated($0.value, to: limits.paramValueLength)))
        }
        let encodedTags = tags.map {
            encoded(MLflowTag(key: $0.key, value: Self.truncated($0.value, to: limits.tagValueLength)))
        }
        bodies = Self.pack(
            runID: encoded(runID), [.params: encodedParams, .tags: encodedTags, .metrics: metrics.map(encoded)],
            limits: limits)
    }

    /// `value` cut to `limit` characters (as MLflow counts them: Unicode scalars), ending with
    /// ``truncationMarker`` when it was cut.
    public static func truncated(_ value: String, to limit: Int) -> String {
        guard value.unicodeScalars.count > limit else { return value }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: value.unicodeScalars.prefix(limit - truncationMarker.unicodeScalars.count))
        return String(scalars) + truncationMarker
    }

    // MARK: - Packing

    private enum Kind: CaseIterable {
        case params, tags, metrics
        var field: String {
            switch self {
            case .params: "params"
            case .tags: "tags"
            case .metrics: "metrics"
            }
        }

        func limit(_ limits: Limits) -> Int {
            switch self {
            case .params: limits.params
            case .tags: limits.tags
            case .metrics: limits.metrics
            }
        }
    }

    /// Fills each body with as many params, then tags, then metrics as the limits allow, into
    /// `{"run_id":…,"params":[…],"tags":[…],"metrics":[…]}`, whose size is known exactly
    /// because the entities are encoded already.
    private static func pack(runID: [UInt8], _ entities: [Kind: [[UInt8]]], limits: Limits) -> [[UInt8]] {
        var queues = entities.mapValues { ArraySlice($0) }
        let overhead =
            #"{"run_id":}"#.utf8.count + runID.count
            + Kind.allCases.reduce(0) { $0 + #","":[]"#.utf8.count + $1.field.utf8.count }
        var bodies: [[UInt8]] = []
        while queues.values.contains(where: { !$0.isEmpty }) {
            var body = Array(#"{"run_id":"#.utf8) + runID
            var size = overhead
            var total = 0
            for kind in Kind.allCases {
                body += Array(#","\#(kind.field)":["#.utf8)
                var count = 0
                while let next = queues[kind]?.first, count < kind.limit(limits), total < limits.entities,
                    total == 0 || size + next.count + (count > 0 ? 1 : 0) <= limits.bytes
                {
                    if count > 0 { body.append(UInt8(ascii: ",")) }
                    body += next
                    size += next.count + (count > 0 ? 1 : 0)
                    count += 1
                    total += 1
                    queues[kind]?.removeFirst()
                }
                body.append(UInt8(ascii: "]"))
            }
            body.append(UInt8(ascii: "}"))
            bodies.append(body)
        }
        return bodies
    }
}
