import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `baton bench ...`: Baton's benchmarks live in their own executable, `baton-bench`, installed next
/// to `baton`; this command runs it in place of this process with the same arguments.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run Baton's benchmarks: `baton bench [runs] ...` or `baton bench lineage ...` (JSON figures).",
        discussion: "Runs the baton-bench binary next to this one; `baton bench --help` lists its options.")

    /// What `baton-bench` gets, as given.
    @Argument(parsing: .captureForPassthrough, help: "Arguments of baton-bench.")
    var arguments: [String] = []

    func run() throws {
        guard let own = Bundle.main.executableURL?.resolvingSymlinksInPath() else {
            throw ValidationError("cannot tell where this baton binary is, to find baton-bench next to it")
        }
        let bench = own.deletingLastPathComponent().appending(path: "baton-bench")
        guard FileManager.default.isExecutableFile(atPath: bench.path) else {
            throw ValidationError(
                "baton-bench is not installed next to baton (\(bench.path)); build it with swift build")
        }
        let argv = ([bench.path] + arguments).map { strdup($0) } + [nil]
        execv(bench.path, argv)
        throw ValidationError("could not run \(bench.path): \(String(cString: strerror(errno)))")
    }
}
