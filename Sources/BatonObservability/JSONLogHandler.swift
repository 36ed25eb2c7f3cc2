import BatonCore
import Foundation
import Logging
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error, for log
/// pipelines (Loki, Elasticsearch, Cloud Logging) that parse rather than grep:
///
/// ```json
/// {"time":"2026-12-03T02:37:06.123Z","level":"info","logger":"baton","message":"attempt claimed",
///  "run_id":"…","stage":"sft","attempt":"1","source":"BatonEngine"}
/// ```
///
/// Metadata keys become top-level fields (`run_id`, `stage`, `attempt`, … as the code logs
/// them); a key that would shadow `time`, `level`, `logger`, `message` or `source` is kept as
/// `meta.<key>`. Nested metadata becomes nested JSON. `BATON_LOG_FORMAT=json` selects it.
public struct JSONLogHandler: LogHandler {
    /// The fields every record has; metadata may not overwrite them.
    static let reserved: Set<String> = ["time", "level", "logger", "message", "source"]

    /// Serialises writes from every logger of the process, so lines never interleave.
    private static let output = Mutex<FileHandle>(FileHandle.standardError)

    private let label: String
    private let write: @Sendable (String) -> Void
    /// The level below which records are dropped.
    public var logLevel: Logger.Level = .info
    /// Metadata attached to every record of this logger.
    public var metadata: Logger.Metadata = [:]

    /// A handler for the logger `label`, writing to standard error.
    public init(label: String) {
        self.init(label: label) { line in
            Self.output.withLock { $0.write(Data(line.utf8)) }
        }
    }

    /// A handler for the logger `label` that hands each line (ending in a newline) to `write`.
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: Any] = [:]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged {
            fields[Self.reserved.contains(key) ? "meta.\(key)" : key] = Self.json(value)
        }
        // A run's trace id is its id (RunTrace): records about a run join its trace.
        if case .string(let runText)? = merged["run_id"],
            let runID = UUID(uuidString: runText)
        {
            fields["trace_id"] = RunTrace.traceID(of: runID)
        }
        fields["time"] = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["message"] = "\(event.message)"
        fields["source"] = event.source
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// A metadata value as a JSON value: strings and string-convertibles as strings, arrays and
    /// dictionaries nested.
    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): "\(convertible)"
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }
}
