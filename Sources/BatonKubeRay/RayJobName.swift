/// The name of the `RayJob` that runs a submission: deterministic, so that submitting again
/// finds the same object, and valid where KubeRay needs it.
///
/// KubeRay requires a DNS-1035 label (lowercase letters, digits and `-`, starting with a letter,
/// ending with a letter or digit) of at most 47 characters, since it appends 6 to name the
/// RayCluster. `baton-` + a lowercase UUID (42 characters) is used as is; any other id is
/// cleaned, shortened, and suffixed with a hash of the original so that two ids never share a
/// name by accident.
public enum RayJobName {
    /// The longest name KubeRay accepts for a RayJob.
    public static let maxLength = 47

    /// The RayJob name for a submission id.
    ///
    /// - Parameters:
    ///   - prefix: put in front of the id; should start with a letter. Default: `baton-`.
    public static func make(submissionID: String, prefix: String = "baton-") -> String {
        let plain = prefix + submissionID
        if isValid(plain) { return plain }
        var cleaned = String(plain.lowercased().map { isAllowed($0) ? $0 : "-" })
        if cleaned.first?.isLetter != true { cleaned = "b-" + cleaned }
        let suffix = "-" + hash(submissionID)
        cleaned = String(cleaned.prefix(maxLength - suffix.count))
        while cleaned.hasSuffix("-") { cleaned.removeLast() }
        return cleaned + suffix
    }

    /// Whether `name` is a DNS-1035 label of at most `maxLength` characters.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.first, let last = name.last, name.count <= maxLength else { return false }
        return first.isASCII && first.isLowercase && first.isLetter && last != "-" && name.allSatisfy(isAllowed)
    }

    private static func isAllowed(_ character: Character) -> Bool {
        character == "-" || ("a"..."z").contains(character) || ("0"..."9").contains(character)
    }

    /// 8 hex digits of the 64-bit FNV-1a hash: stable across processes and platforms, unlike `hashValue`.
    private static func hash(_ value: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String((String(repeating: "0", count: max(0, 16 - hex.count)) + hex).prefix(8))
    }
}
