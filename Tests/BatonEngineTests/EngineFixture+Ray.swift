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
