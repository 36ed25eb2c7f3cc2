/// Lower-case hexadecimal text of bytes (digests, ids), without a formatter per byte.
extension Sequence<UInt8> {
    /// The bytes as two lower-case hex digits each: `[0x0a, 0xff]` is `"0aff"`.
    public var lowercaseHex: String {
        let digits: StaticString = "0123456789abcdef"
        var text: [UInt8] = []
        text.reserveCapacity(underestimatedCount * 2)
        digits.withUTF8Buffer { digits in
            for byte in self {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}
