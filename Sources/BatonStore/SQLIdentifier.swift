import BatonCore

/// A PostgreSQL identifier (a database or table name) that can be written into a statement as
/// is, for the few statements that take no bind parameters (`CREATE DATABASE`, `VACUUM`): lower
/// case letters, digits and `_`, starting with a letter or `_`, at most 63 bytes.
public struct SQLIdentifier: Sendable, Hashable, CustomStringConvertible {
    /// The identifier.
    public let name: String

    /// The identifier `name`.
    ///
    /// - Throws: `StoreError` `.invalidConfiguration` when `name` is not `[a-z_][a-z0-9_]{0,62}`.
    public init(_ name: String) throws {
        let bytes = Array(name.utf8)
        func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == 95 }
        func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        guard let first = bytes.first, bytes.count <= 63, isLetter(first),
            bytes.allSatisfy({ isLetter($0) || isDigit($0) })
        else {
            throw StoreError.invalidConfiguration(
                "'\(name.prefix(80))' is not a plain SQL identifier ([a-z_][a-z0-9_]{0,62})")
        }
        self.name = name
    }

    public var description: String { name }
}
