import BatonCore
import NIOCore

/// The end of a job log, read from Ray's `{"logs": "..."}` answer as it streams in, in bounded
/// memory.
///
/// Ray's Jobs API has no way to ask for the last bytes of a log (`GET /api/jobs/{id}/logs`
/// returns all of it, `/logs/tail` is a websocket that follows it from the start), while the
/// `::baton::` records a job prints come at its end. So the answer's JSON string is decoded as
/// it arrives and only its last `limit` bytes are kept. A state machine over bytes: feed it
/// chunks, then ask for the ``log``.
struct RayJobLogTail {
    /// Where in `{"logs": "..."}` the decoder is.
    private enum State {
        case start
        case beforeKey
        case key
        case keyEscape
        case afterKey
        case beforeValue
        case value
        case escape
        case unicode(digits: Int, value: UInt32)
        case done
    }

    /// The most bytes of log kept.
    let limit: Int
    private var state = State.start
    private var key: [UInt8] = []
    private var isLogs = false
    /// A UTF-16 high surrogate waiting for its low half.
    private var highSurrogate: UInt32?
    private var kept: [UInt8] = []
    /// Log bytes decoded in all, kept or not.
    private(set) var total = 0
    private var sawLogs = false

    init(limit: Int) {
        self.limit = max(limit, 1)
    }

    /// Whether the log was longer than ``limit`` (its start was dropped).
    var isTruncated: Bool { total > limit }

    /// Reads the next chunk of the answer.
    ///
    /// - Throws: ``RayError`` when the answer is not the documented JSON object.
    mutating func feed(_ buffer: ByteBuffer) throws(RayError) {
        let failure = buffer.withUnsafeReadableBytes { raw in
            consume(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
        }
        if let failure { throw failure }
    }

    /// Reads the next chunk of the answer.
    mutating func feed(_ bytes: [UInt8]) throws(RayError) {
        if let failure = bytes.withUnsafeBufferPointer({ consume($0) }) { throw failure }
    }

    /// Decodes a chunk; the error when the answer is not the documented JSON object.
    private mutating func consume(_ bytes: UnsafeBufferPointer<UInt8>) -> RayError? {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch state {
            case .value:
                // The hot path: a run of plain characters is copied at once.
                var end = index
                while end < bytes.count, bytes[end] != UInt8(ascii: "\\"), bytes[end] != UInt8(ascii: "\"") {
                    end += 1
                }
                if end > index {
                    flushSurrogate()
                    append(UnsafeBufferPointer(rebasing: bytes[index..<end]))
                    index = end
                    continue
                }
                state = byte == UInt8(ascii: "\\") ? .escape : .beforeKey
                if byte == UInt8(ascii: "\"") { flushSurrogate() }
            case .escape:
                let decoded: UInt8? =
                    switch byte {
                    case UInt8(ascii: "n"): UInt8(ascii: "\n")
                    case UInt8(ascii: "t"): UInt8(ascii: "\t")
                    case UInt8(ascii: "r"): UInt8(ascii: "\r")
                    case UInt8(ascii: "b"): 0x08
                    case UInt8(ascii: "f"): 0x0C
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte
                    default: nil
                    }
                if byte == UInt8(ascii: "u") {
                    state = .unicode(digits: 0, value: 0)
                } else if let decoded {
                    flushSurrogate()
                    append(decoded)
                    state = .value
                } else {
                    return Self.malformed("a bad escape in the log")
                }
            case .unicode(let digits, let value):
                guard let digit = Self.hexValue(byte) else { return Self.malformed("a bad \\u escape in the log") }
                let next = value << 4 | digit
                if digits < 3 {
                    state = .unicode(digits: digits + 1, value: next)
                } else {
                    scalar(next)
                    state = .value
                }
            case .start:
                if byte == UInt8(ascii: "{") {
                    state = .beforeKey
                } else if !Self.isSpace(byte) {
                    return Self.malformed("the answer is not a JSON object")
                }
            case .beforeKey:
                if byte == UInt8(ascii: "\"") {
                    key.removeAll(keepingCapacity: true)
                    state = .key
                } else if byte == UInt8(ascii: "}") {
                    state = .done
                } else if !Self.isSpace(byte), byte != UInt8(ascii: ",") {
                    return Self.malformed("only string values are expected in the answer")
                }
            case .key:
                if byte == UInt8(ascii: "\"") {
                    state = .afterKey
                } else if byte == UInt8(ascii: "\\") {
                    state = .keyEscape
                } else if key.count < 64 {
                    key.append(byte)
                }
            case .keyEscape:
                if key.count < 64 { key.append(byte) }
                state = .key
            case .afterKey:
                if byte == UInt8(ascii: ":") {
                    state = .beforeValue
                } else if !Self.isSpace(byte) {
                    return Self.malformed("a key without a value in the answer")
                }
            case .beforeValue:
                if byte == UInt8(ascii: "\"") {
                    isLogs = key == Array("logs".utf8)
                    sawLogs = sawLogs || isLogs
                    state = .value
                } else if !Self.isSpace(byte) {
                    return Self.malformed("the answer's \"\(String(decoding: key, as: UTF8.self))\" is not a string")
                }
            case .done:
                if !Self.isSpace(byte) { return Self.malformed("text after the answer's object") }
            }
            index += 1
        }
        return nil
    }

    /// The last ``limit`` bytes of the log; when the log was longer, from the first whole line
    /// on (the line the cut went through is dropped).
    ///
    /// - Throws: ``RayError`` when the answer ended early or had no `logs`.
    func log() throws(RayError) -> String {
        guard case .done = state, sawLogs else { throw Self.malformed("the answer ended before its logs did") }
        guard isTruncated else { return String(decoding: kept, as: UTF8.self) }
        // One byte more than the limit: the byte before the cut says whether a line starts there.
        let window = kept.suffix(limit + 1)
        guard let newline = window.firstIndex(of: UInt8(ascii: "\n")) else { return "" }
        return String(decoding: window[(newline + 1)...], as: UTF8.self)
    }

    // MARK: - Keeping the end

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard isLogs else { return }
        total += bytes.count
        if bytes.count > limit {
            kept = Array(bytes.suffix(limit + 1))
        } else {
            kept.append(contentsOf: bytes)
            trim()
        }
    }

    private mutating func append(_ byte: UInt8) {
        guard isLogs else { return }
        total += 1
        kept.append(byte)
        trim()
    }

    /// Drops the oldest bytes once twice the limit is held, so trimming costs O(1) per byte.
    private mutating func trim() {
        if kept.count > 2 * (limit + 1) { kept.removeFirst(kept.count - limit - 1) }
    }

    // MARK: - Unicode

    private mutating func scalar(_ value: UInt32) {
        if (0xD800...0xDBFF).contains(value) {
            flushSurrogate()
            highSurrogate = value
            return
        }
        if (0xDC00...0xDFFF).contains(value), let high = highSurrogate {
            highSurrogate = nil
            encode(0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00))
            return
        }
        flushSurrogate()
        encode(value)
    }

    /// A high surrogate not followed by its low half stands for U+FFFD.
    private mutating func flushSurrogate() {
        guard highSurrogate != nil else { return }
        highSurrogate = nil
        encode(0xFFFD)
    }

    private mutating func encode(_ value: UInt32) {
        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
        for byte in UTF8.encode(scalar)! { append(byte) }
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func malformed(_ what: String) -> RayError {
        .badResponse("Ray's job log answer is not {\"logs\": \"...\"}: \(what)", status: 200)
    }
}
