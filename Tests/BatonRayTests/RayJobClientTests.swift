import BatonCore
import BatonRay
import BatonTestSupport
import Foundation
import Testing

/// The Ray Jobs client against the real local Ray head (`BATON_RAY_ADDRESS`).
@Suite("Ray Jobs client (real Ray head)", .serialized, .timeLimit(.minutes(4)))
struct RayJobClientTests {
    let client: RayJobClient

    init() throws {
        client = RayJobClient(
            configuration: .init(address: try TestStack.variable("BATON_RAY_ADDRESS")), logger: TestStack.logger)
    }

    func waitForEnd(_ id: String) async throws -> RayJobDetails {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            // As the engine's watcher does, a call the busy head did not answer is asked again.
            do {
                let job = try await client.job(id)
                if job.status.isTerminal { return job }
            } catch let error as RayError where error.isRetriable {}
            try await Task.sleep(for: .milliseconds(200))
        }
        throw RayTimeout()
    }

    struct RayTimeout: Error {}

    @Test("Submit, follow, read logs; a second submission with the same id is the same job")
    func submitIsIdempotent() async throws {
        let server = try await client.version()
        #expect(server.rayVersion.hasPrefix("2."))
        let id = "baton-test-\(TestStack.uniqueSuffix())"
        let submission = RayJobSubmission(
            entrypoint: #"echo "::baton::metric {\"key\":\"k\",\"value\":1.5}" && echo "$BATON_PARAMS""#,
            submissionID: id,
            runtimeEnv: ["env_vars": .object(["BATON_PARAMS": .string(#"{"lr":0.1}"#)])],
            metadata: ["baton_stage": "test"], entrypointNumCPUs: 0.1)
        let first = try await client.submit(submission, server: server)
        let second = try await client.submit(submission, server: server)
        #expect(first.submissionID == id)
        #expect(second.submissionID == id)
        #expect(second.jobID == first.jobID)
        let ended = try await waitForEnd(id)
        #expect(ended.status == .succeeded)
        #expect(ended.metadata?["baton_stage"] == "test")
        let log = try await client.logs(id)
        #expect(JobRecords(log: log).metrics == [JobMetric(key: "k", value: 1.5)])
        #expect(log.contains(#"{"lr":0.1}"#))
        #expect(try await client.list().filter { $0.submissionID == id }.count == 1)
        #expect(try await client.delete(id))
        // What was submitted is gone. Under load Ray may write a placeholder record after the
        // delete, when the job's supervisor actor exits late ("Entrypoint not found.").
        do {
            let placeholder = try await client.job(id)
            #expect(placeholder.entrypoint != submission.entrypoint, "\(placeholder)")
        } catch {
            #expect(error.code == .notFound)
        }
    }

    @Test("A log longer than the read limit is read to its end: the records printed last are kept")
    func longLogKeepsItsEnd() async throws {
        var configuration = client.configuration
        configuration.maxLogBytes = 256 << 10
        let small = RayJobClient(configuration: configuration, logger: TestStack.logger)
        let id = "baton-test-\(TestStack.uniqueSuffix())"
        // 4 MiB of noise (16 times the limit), then the record.
        let program =
            "import sys\nfor i in range(40000): sys.stdout.write('noise %05d ' % i + 'x' * 90 + chr(10))\n"
            + "print('::baton::output {\"name\":\"data\",\"uri\":\"file:///tmp/end\"}')"
        let submission = RayJobSubmission(
            entrypoint: "python3 -c \"$BATON_PROGRAM\"", submissionID: id,
            runtimeEnv: ["env_vars": .object(["BATON_PROGRAM": .string(program)])], entrypointNumCPUs: 0.1)
        _ = try await small.submit(submission, server: try await small.version())
        #expect(try await waitForEnd(id).status == .succeeded)
        let log = try await small.logs(id)
        #expect(log.utf8.count <= 256 << 10)
        #expect(JobRecords(log: log).outputs.map(\.uri) == ["file:///tmp/end"])
        #expect(log.hasPrefix("noise "), "starts at a whole line: \(log.prefix(40))")
        #expect(!log.contains("noise 00000 "))
        // The whole log, with the default limit, ends the same way.
        #expect(JobRecords(log: try await client.logs(id)).outputs.map(\.uri) == ["file:///tmp/end"])
        _ = try? await client.delete(id)
    }

    @Test("A failing job reports the driver's exit code and Ray's message; stop ends a running job")
    func failureAndStop() async throws {
        let server = try await client.version()
        let failing = "baton-fail-\(TestStack.uniqueSuffix())"
        _ = try await client.submit(
            RayJobSubmission(entrypoint: "echo boom >&2; exit 3", submissionID: failing, entrypointNumCPUs: 0.1),
            server: server)
        let failed = try await waitForEnd(failing)
        #expect(failed.status == .failed)
        #expect(failed.driverExitCode == 3)
        #expect(failed.message?.isEmpty == false)

        let sleeping = "baton-stop-\(TestStack.uniqueSuffix())"
        _ = try await client.submit(
            RayJobSubmission(entrypoint: "sleep 120", submissionID: sleeping, entrypointNumCPUs: 0.1), server: server)
        try await Task.sleep(for: .seconds(1))
        #expect(try await client.stop(sleeping))
        #expect(try await waitForEnd(sleeping).status == .stopped)
    }

    @Test("Ray down is a typed, retriable error within the timeout")
    func unreachable() async throws {
        var configuration = RayJobClient.Configuration(address: "http://127.0.0.1:1")
        configuration.requestTimeout = .seconds(2)
        let down = RayJobClient(configuration: configuration, logger: TestStack.logger)
        let started = ContinuousClock.now
        let error = await #expect(throws: RayError.self) { try await down.version() }
        #expect(error?.code == .unavailable)
        #expect(error?.isRetriable == true)
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
