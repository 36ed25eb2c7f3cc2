import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonS3
import BatonStore
import Foundation
import Logging

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export a run to other tools.", subcommands: [DVC.self])

    struct DVC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dvc",
            abstract: "Write dvc.yaml and dvc.lock (schema 2.0, md5 hashes) for a run.",
            discussion: """
                One DVC stage per executed stage: cmd (its entrypoint), deps (its inputs), outs (its \
                outputs). file:// paths become relative to the run's artifact root (the deepest folder \
                holding all of them), s3:// keys relative to the deepest prefix holding all of them \
                (in a DVC project, .dvc/config gets it as the remote 'baton', with the endpoint and \
                region of the AWS variables); other URIs map to _external/<scheme>/<host>/<path>. \
                See docs/lineage.md.
                """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The run id.") var runID: String
        @Option(help: "The folder to write dvc.yaml and dvc.lock into (created if missing).") var out: String

        func run() async throws {
            options.bootstrapLogging()
            let id = try GlobalOptions.runID(runID)
            let export = try await Runtime.withStore(options, logger: Logger(label: "baton.export")) {
                store -> (yaml: String, steps: [RunStep])? in
                guard let yaml = try await store.lineage.specYAML(ofRun: id) else { return nil }
                return (yaml, try await store.lineage.steps(ofRun: id))
            }
            guard let (yaml, steps) = export else {
                print("no run \(id.lowercased)")
                throw ExitCode(1)
            }
            let project = try ExportDVCProject(steps: steps, spec: try PipelineSpecCache.shared.spec(yaml))
            let folder = URL(filePath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try project.dvcYAML.write(to: folder.appending(path: "dvc.yaml"), atomically: true, encoding: .utf8)
            try project.dvcLock.write(to: folder.appending(path: "dvc.lock"), atomically: true, encoding: .utf8)
            print("wrote \(folder.appending(path: "dvc.yaml").path) and dvc.lock: \(steps.count) stages")
            if let root = project.artifactRoot { print("file:// paths are relative to \(root)") }
            if let remote = project.remoteConfig(S3Configuration(environment: GlobalOptions.environment)),
                let root = project.s3Root
            {
                print("s3:// paths are relative to \(root)")
                let config = folder.appending(path: ".dvc/config")
                if FileManager.default.fileExists(atPath: folder.appending(path: ".dvc").path) {
                    let existing = (try? String(contentsOf: config, encoding: .utf8)) ?? ""
                    try Self.replacingRemote(in: existing, with: remote).write(
                        to: config, atomically: true, encoding: .utf8)
                    print("wrote the remote 'baton' (\(root)) into \(config.path)")
                } else {
                    print("not a DVC project yet: after `dvc init`, run this again to add the remote 'baton', or:")
                    print(remote)
                }
            }
        }

        /// `config` with its section of the remote `baton` (if any) replaced by `remote`.
        static func replacingRemote(in config: String, with remote: String) -> String {
            var kept: [Substring] = []
            var skipping = false
            for line in config.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("[") {
                    skipping = line.trimmingCharacters(in: .whitespaces) == "['remote \"baton\"']"
                }
                if !skipping { kept.append(line) }
            }
            let head = kept.joined(separator: "\n").trimmingCharacters(in: .newlines)
            return (head.isEmpty ? "" : head + "\n") + remote
        }
    }
}
