/// Bounds on a `pipeline.requested` event, checked before the request costs anything: before
/// a spec is parsed, a pipeline looked up, or anything derived from the request stored.
///
/// Every text field is bounded so that it fits its index and can be quoted in a rejection
/// reason; no field may hold a NUL character (PostgreSQL's `text` and `jsonb` refuse it).
public enum RequestLimits {
    /// The longest `pipeline`, in bytes: a pipeline name (`[a-z][a-z0-9_-]{0,62}`). Default: 63.
    public static let maxPipelineNameBytes = 63
    /// The longest `retry_from`, in bytes: a stage name. Default: 63.
    public static let maxStageNameBytes = 63
    /// The largest inline `spec`, in bytes: ``SpecLimits/maxBytes``.
    public static let maxSpecBytes = SpecLimits.maxBytes
    /// The longest `idempotency_key`, in bytes; it is a unique index key. Default: 256.
    public static let maxIdempotencyKeyBytes = 256
    /// The longest `requested_by`, in bytes. Default: 256.
    public static let maxRequestedByBytes = 256
    /// The most `labels`. Default: 64.
    public static let maxLabels = 64
    /// The longest label key, in bytes (as Kubernetes label names). Default: 63.
    public static let maxLabelKeyBytes = 63
    /// The longest label value, in bytes. Default: 256.
    public static let maxLabelValueBytes = 256
    /// The most `params`. Default: 256.
    public static let maxParams = 256
    /// The longest param name, in bytes: a declared param's name. Default: 63.
    public static let maxParamNameBytes = 63
    /// The largest `params`, encoded as JSON, in bytes. Default: 64 KiB.
    public static let maxParamsBytes = 64 * 1024
    /// The deepest a param value may nest: ``SpecLimits/maxDepth``.
    public static let maxParamDepth = SpecLimits.maxDepth
    /// The longest event id kept as an inbox key, in bytes; a longer one is kept as its digest
    /// (the index refuses keys over about 2.7 KB). Default: 512.
    public static let maxEventIDBytes = 512
    /// The longest reason a rejection carries, in UTF-8 bytes, so that a `run.rejected` event stays
    /// far below the broker's 1 MB message limit. Default: 4 KiB.
    public static let maxReasonBytes = 4 * 1024
    /// The most bytes of an untrusted value quoted in a reason. Default: 100.
    public static let maxQuotedBytes = 100

    /// An untrusted value as a reason may quote it: at most ``maxQuotedBytes`` (then how long it
    /// was), control characters written out (see ``SafeText``).
    public static func quoted(_ text: String) -> String {
        SafeText.make(text, limit: maxQuotedBytes)
    }

    /// `reason` as a rejection carries it: under ``maxReasonBytes``, with no NUL (see ``SafeText``).
    public static func boundedReason(_ reason: String) -> String {
        // Room for SafeText's "… (N bytes in all)".
        SafeText.make(reason, limit: maxReasonBytes - 40)
    }

    /// The first bound the request exceeds, as a sentence naming the field and the limit (and
    /// quoting at most an excerpt of the value); nil when it is within every bound.
    public static func violation(in request: PipelineRequested) -> String? {
        if let name = request.pipeline,
            let problem = nameProblem(name, field: "pipeline", what: "a pipeline name", limit: maxPipelineNameBytes)
        {
            return problem
        }
        if let spec = request.spec, spec.utf8.count > maxSpecBytes {
            return "spec is \(spec.utf8.count) bytes; the limit is \(maxSpecBytes)"
        }
        if let key = request.idempotencyKey,
            let problem = textProblem(key, field: "idempotency_key", limit: maxIdempotencyKeyBytes)
        {
            return problem
        }
        if let who = request.requestedBy,
            let problem = textProblem(who, field: "requested_by", limit: maxRequestedByBytes)
        {
            return problem
        }
        if let from = request.retryFrom,
            let problem = nameProblem(from, field: "retry_from", what: "a stage name", limit: maxStageNameBytes)
        {
            return problem
        }
        if let labels = request.labels, let problem = labelsProblem(labels) { return problem }
        if let params = request.params, let problem = paramsProblem(params) { return problem }
        return nil
    }

    // MARK: - Fields

    private static func textProblem(_ text: String, field: String, limit: Int) -> String? {
        if text.utf8.count > limit { return "\(field) is \(text.utf8.count) bytes; the limit is \(limit)" }
        if text.utf8.contains(0) { return "\(field) contains a NUL character" }
        return nil
    }

    private static func nameProblem(_ name: String, field: String, what: String, limit: Int) -> String? {
        if let problem = textProblem(name, field: field, limit: limit) { return "\(problem) (\(what))" }
        guard SpecReader.isValidName(name) else {
            return "\(field) '\(quoted(name))' is not \(what): lower-case letters, digits, '-' or '_', "
                + "starting with a letter"
        }
        return nil
    }

    private static func labelsProblem(_ labels: [String: String]) -> String? {
        if labels.count > maxLabels { return "labels has \(labels.count) entries; the limit is \(maxLabels)" }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if let problem = textProblem(key, field: "labels key '\(quoted(key))'", limit: maxLabelKeyBytes) {
                return problem
            }
            if let problem = textProblem(value, field: "labels.\(key)", limit: maxLabelValueBytes) { return problem }
        }
        return nil
    }

    private static func paramsProblem(_ params: [String: JSONValue]) -> String? {
        if params.count > maxParams { return "params has \(params.count) entries; the limit is \(maxParams)" }
        for (name, value) in params.sorted(by: { $0.key < $1.key }) {
            let field = "params name '\(quoted(name))'"
            if let problem = textProblem(name, field: field, limit: maxParamNameBytes) { return problem }
            if let problem = valueProblem(value, path: "params.\(name)", depth: 0) { return problem }
        }
        guard let encoded = try? CloudEvent.encode(params) else { return "params cannot be encoded as JSON" }
        if encoded.count > maxParamsBytes {
            return "params are \(encoded.count) bytes as JSON; the limit is \(maxParamsBytes)"
        }
        return nil
    }

    /// A non-finite number, a NUL or too deep a nesting in a param value, naming where.
    private static func valueProblem(_ value: JSONValue, path: @autoclosure () -> String, depth: Int) -> String? {
        guard depth < maxParamDepth else {
            return "\(path()) nests more than \(maxParamDepth) levels deep; the limit is \(maxParamDepth)"
        }
        switch value {
        case .double(let number) where !number.isFinite:
            return "\(path()): \(number) is not a finite number; JSON cannot carry it"
        case .string(let text) where text.utf8.contains(0):
            return "\(path()) contains a NUL character"
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let problem = valueProblem(item, path: "\(path())[\(index)]", depth: depth + 1) { return problem }
            }
        case .object(let object):
            for (key, item) in object {
                if key.utf8.contains(0) { return "\(path()) has a key with a NUL character" }
                let problem = valueProblem(item, path: "\(path()).\(quoted(key))", depth: depth + 1)
                if let problem { return problem }
            }
        default:
            break
        }
        return nil
    }
}
