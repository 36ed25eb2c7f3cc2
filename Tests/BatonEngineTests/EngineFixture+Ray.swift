import BatonCore
import BatonRay
import BatonStore
import BatonTestSupport
import Foundation
import Testing

extension EngineFixture {
    /// `baton submit SPEC --param ...` as a user runs it; returns the new run's id.
    func submit(_ yaml: String, _ params: [String] = [], flags: [String] = []) async throws -> UUID {
        let result = try await BatonProcess.run(
            ["submit", try specFile(yaml)] + params.flatMap { ["--param", $0] } + flags, environment: environment)
        return try #require(UUID(uuidString: result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Ray jobs Baton submitted for a run (read from the real Ray head, by job metadata).
    func rayJobs(of runID: UUID) async throws -> [RayJobDetails] {
        let client = RayJobClient(
            configuration: .init(address: try TestStack.variable("BATON_RAY_ADDRESS")), logger: TestStack.logger)
        return try await client.list().filter { $0.metadata?["baton_run_id"] == runID.lowercased }
    }
}

extension EngineFixture {
    /// The jobs root of the tests' `serve` (`BATON_JOBS_ROOT`): their job folders are made in it.
    static let jobsRoot = FileManager.default.temporaryDirectory.appending(path: "baton-test-jobs")

    /// The folder a Ray stage runs from (its `working_dir`, packaged and uploaded by Baton): a
    /// fresh one under ``jobsRoot`` holding `program` as `stage.py`, and `files` by name.
    static func jobFolder(program: String, files: [String: String] = [:]) throws -> URL {
        let folder = jobsRoot.appending(path: "job-\(TestStack.uniqueSuffix())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try program.write(to: folder.appending(path: "stage.py"), atomically: true, encoding: .utf8)
        for (name, text) in files {
            try text.write(to: folder.appending(path: name), atomically: true, encoding: .utf8)
        }
        return folder
    }

    /// The `ray:` body of a stage that runs `stage.py` from `folder` on 0.1 CPU.
    static func rayBody(_ folder: URL) -> String {
        "{entrypoint: python3 stage.py, runtime_env: {working_dir: \(folder.path)}, resources: {cpus: 0.1}}"
    }
}
