import Foundation

extension UUID {
    /// The lower-case text form used in keys, subjects and logs.
    public var lowercased: String { uuidString.lowercased() }
}
