import BatonCore
import Foundation

extension LocalPathPolicy {
    /// The policy of store-level tests: jobs under this machine's temporary folder, no data roots
    /// (their specs name no local paths).
    public static let tests = LocalPathPolicy(
        jobsRoot: FileManager.default.temporaryDirectory.appending(path: "baton-test-jobs"))
}

extension SpecPolicy {
    /// The default spec policy over ``LocalPathPolicy/tests``.
    public static let tests = SpecPolicy(paths: .tests)
}
