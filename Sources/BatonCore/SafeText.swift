/// Untrusted bytes or text made safe to store in a `text`/`jsonb` column, put in a log line or
/// show to a user: bounded in size, valid UTF-8, and free of NUL and other control characters.
///
/// Control characters (other than tab and newline) become `\u{XX}` and bytes that are not UTF-8
/// become `\xNN`, so nothing is lost silently and the result still says what was there. Text over
/// the limit is cut on a character boundary and ends with `… (N bytes in all)`.
public enum SafeText {
    /// The safe form of `bytes`, at most about `limit` bytes of UTF-8.
    public static func make(bytes: some Collection<UInt8>, limit: Int) -> String {
        var output = ""
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let (scalar, next) = decodeScalar(bytes, at: index)
            if let scalar {
                append(scalar, to: &output)
            } else {
                output += "\\x" + CollectionOfOne(bytes[index]).lowercaseHex
            }
            index = next
            if output.utf8.count > limit {
                return truncate(output, limit: limit) + "… (\(bytes.count) bytes in all)"
            }
        }
        return output
    }

    /// The safe form of `text`, at most about `limit` bytes of UTF-8.
    public static func make(_ text: String, limit: Int) -> String {
        make(bytes: Array(text.utf8), limit: limit)
    }

    private static func append(_ scalar: Unicode.Scalar, to output: inout String) {
        switch scalar.value {
        case 0x09, 0x0A: output.unicodeScalars.append(scalar)
        case 0x00..<0x20, 0x7F: output += "\\u{" + CollectionOfOne(UInt8(scalar.value)).lowercaseHex + "}"
        default: output.unicodeScalars.append(scalar)
        }
    }

    /// Decodes one UTF-8 scalar at `index`; `nil` (and one byte consumed) for an invalid sequence.
    private static func decodeScalar<Bytes: Collection<UInt8>>(
        _ bytes: Bytes, at index: Bytes.Index
    ) -> (Unicode.Scalar?, Bytes.Index) {
        let first = bytes[index]
        let length: Int
        switch first {
        case 0x00..<0x80: return (Unicode.Scalar(first), bytes.index(after: index))
        case 0xC2..<0xE0: length = 2
        case 0xE0..<0xF0: length = 3
        case 0xF0..<0xF5: length = 4
        default: return (nil, bytes.index(after: index))
        }
        var sequence: [UInt8] = []
        var cursor = index
        while sequence.count < length, cursor != bytes.endIndex {
            sequence.append(bytes[cursor])
            cursor = bytes.index(after: cursor)
        }
        guard sequence.count == length, let text = String(validating: sequence, as: UTF8.self),
            let scalar = text.unicodeScalars.first, text.unicodeScalars.count == 1
        else { return (nil, bytes.index(after: index)) }
        return (scalar, cursor)
    }

    private static func truncate(_ text: String, limit: Int) -> String {
        var result = ""
        for character in text {
            if result.utf8.count + character.utf8.count > limit { break }
            result.append(character)
        }
        return result
    }
}
