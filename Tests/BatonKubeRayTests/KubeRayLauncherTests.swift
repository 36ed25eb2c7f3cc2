// No Kubernetes can run here: every test in this file talks to FakeKubernetes, a local fake of the
// Kubernetes API server (a Hummingbird app on 127.0.0.1, random port) that stores RayJobs in
// memory. The tests play the KubeRay operator by moving a RayJob's status themselves. What the
// fake cannot show: TLS to a real API server, KubeRay's own validation and timing, RBAC.

import BatonCore
import BatonKubeRay
import BatonKubernetes
import BatonKubernetesTestSupport
import BatonRay
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("KubeRay launcher against a fake Kubernetes API server", .timeLimit(.minutes(2)))
struct KubeRayLauncherTests {
    static let attemptID = "0f8e3c52-9a1b-4c7d-8e2f-123456789abc"
    static let rayJobName = "baton-0f8e3c52-9a1b-4c7d-8e2f-123456789abc"
    static let token = "test-token-3f9a"

    // MARK: - Submit

    @Test func submitCreatesARayJobOnASelectedCluster() async throws {
        try await withLauncher { fake, launcher, _ in
            let details = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            #expect(details.status == .pending)
            #expect(details.submissionID == Self.attemptID)

            let object = try #require(fake.rayJob(Self.rayJobName))
            #expect(object["apiVersion"] == .string("ray.io/v1"))
            #expect(object["kind"] == .string("RayJob"))
            let metadata = try #require(object["metadata"]?.objectValue)
            let labels = try #require(metadata["labels"]?.objectValue)
            #expect(labels["app.kubernetes.io/managed-by"] == .string("baton"))
            #expect(labels["baton/run-id"] == .string("run-42"))
            #expect(labels["baton/stage"] == .string("train"))
            #expect(labels["baton/attempt"] == .string("2"))
            #expect(labels["baton/attempt-id"] == .string(Self.attemptID))

            let spec = try #require(object["spec"]?.objectValue)
            #expect(spec["entrypoint"] == .string("python -m baton_jobs.train"))
            #expect(spec["jobId"] == .string(Self.attemptID))
            #expect(spec["clusterSelector"] == .object(["ray.io/cluster": .string("shared")]))
            #expect(spec["rayClusterSpec"] == nil)
            // A shared cluster outlives the job: no shutdown, no TTL.
            #expect(spec["shutdownAfterJobFinishes"] == nil)
            #expect(spec["ttlSecondsAfterFinished"] == nil)
            #expect(spec["activeDeadlineSeconds"] == .int(3600))
            #expect(spec["entrypointNumCpus"]?.numberValue == 2)
            #expect(spec["entrypointNumGpus"]?.numberValue == 1)
            #expect(spec["entrypointResources"] == .string(#"{"accelerator_type:H100":1}"#))
            #expect(spec["metadata"]?.objectValue?["baton_stage"] == .string("train"))

            // runtimeEnvYAML is JSON (valid YAML); the params travel as JSON inside env_vars.
            guard case .string(let runtimeEnvYAML) = spec["runtimeEnvYAML"] else {
                Issue.record("no runtimeEnvYAML")
                return
            }
            let runtimeEnv = try JSONDecoder().decode(JSONValue.self, from: Data(runtimeEnvYAML.utf8)).objectValue
            let environment = try #require(runtimeEnv?["env_vars"]?.objectValue)
            guard case .string(let params) = environment["BATON_PARAMS"] else {
                Issue.record("no BATON_PARAMS in env_vars")
                return
            }
            let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(params.utf8))
            #expect(decoded == .object(["lr": .double(0.001), "prompt": .string("a; rm -rf / #")]))
            #expect(environment["BATON_ATTEMPT_ID"] == .string(Self.attemptID))
            #expect(runtimeEnv?["working_dir"] == .string("/opt/jobs"))
        }
    }

    @Test func submitOnATemplateClusterShutsItDownAfterTheJob() async throws {
        let template = try Self.writeTemporaryFile(
            """
            # a RayCluster spec, as in KubeRay's samples
            rayVersion: '2.60.0'
            headGroupSpec:
              rayStartParams:
                dashboard-host: '0.0.0.0'
                num-cpus: "0"
              template:
                spec:
                  containers:
                    - name: ray-head
                      image: rayproject/ray:2.60.0
                      resources:
                        limits: {cpu: 2, memory: 4Gi}
            workerGroupSpecs:
              - groupName: gpu
                replicas: 1
                rayStartParams: {num-gpus: "1"}
            """, name: "cluster.yaml")
        let cluster = try KubeRayLauncher.Configuration.Cluster.templateFile(at: template)
        try await withLauncher(cluster: cluster) { fake, launcher, _ in
            let version = try await launcher.version()
            #expect(version.rayVersion == "2.60.0")
            _ = try await launcher.submit(try Self.submission(), server: version)
            let spec = try #require(fake.rayJob(Self.rayJobName)?["spec"]?.objectValue)
            #expect(spec["clusterSelector"] == nil)
            #expect(spec["shutdownAfterJobFinishes"] == .bool(true))
            #expect(spec["ttlSecondsAfterFinished"] == .int(300))
            #expect(spec["activeDeadlineSeconds"] == .int(3600))
            let clusterSpec = try #require(spec["rayClusterSpec"]?.objectValue)
            let head = try #require(clusterSpec["headGroupSpec"]?.objectValue)
            // Quoted numbers stay strings (rayStartParams is a map of strings); plain ones are numbers.
            #expect(
                head["rayStartParams"] == .object(["dashboard-host": .string("0.0.0.0"), "num-cpus": .string("0")]))
            let workers = try #require(clusterSpec["workerGroupSpecs"])
            guard case .array(let groups) = workers, case .object(let gpu) = groups.first else {
                Issue.record("workerGroupSpecs is not a list of groups")
                return
            }
            #expect(gpu["replicas"] == .int(1))
            #expect(gpu["rayStartParams"] == .object(["num-gpus": .string("1")]))
        }
    }

    @Test func submittingTwiceCreatesOneRayJob() async throws {
        try await withLauncher { fake, launcher, _ in
            let server = try await launcher.version()
            _ = try await launcher.submit(try Self.submission(), server: server)
            fake.setStatus(Self.rayJobName, deployment: "Running", job: "RUNNING")
            // A redelivered event, or an adopting watcher, submits the same attempt again.
            let again = try await launcher.submit(try Self.submission(), server: server)
            #expect(fake.createdCount == 1)
            #expect(again.status == .running)
            #expect(fake.requests.filter { $0.method == "POST" }.count == 2)
        }
    }

    // MARK: - Status

    @Test func statusFollowsTheRayJobToSuccess() async throws {
        try await withLauncher { fake, launcher, _ in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            #expect(try await launcher.job(Self.attemptID).status == .pending)
            fake.setStatus(Self.rayJobName, deployment: "Initializing")
            #expect(try await launcher.job(Self.attemptID).status == .pending)
            fake.setStatus(Self.rayJobName, deployment: "Running", job: "PENDING")
            #expect(try await launcher.job(Self.attemptID).status == .pending)
            fake.setStatus(Self.rayJobName, deployment: "Running", job: "RUNNING")
            #expect(try await launcher.job(Self.attemptID).status == .running)
            fake.setStatus(Self.rayJobName, deployment: "Complete", job: "SUCCEEDED")
            let done = try await launcher.job(Self.attemptID)
            #expect(done.status == .succeeded)
            #expect(done.jobID == Self.attemptID)
            #expect(done.startTime == 1_735_787_045_000)
            #expect(done.errorType == nil)
        }
    }

    @Test func aFailedDeploymentFailsTheJobWithKubeRaysMessage() async throws {
        try await withLauncher { fake, launcher, _ in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            fake.setStatus(
                Self.rayJobName, deployment: "Failed", job: "RUNNING", reason: "DeadlineExceeded",
                message: "The RayJob has passed the activeDeadlineSeconds. DeadlineExceeded.")
            let failed = try await launcher.job(Self.attemptID)
            #expect(failed.status == .failed)
            #expect(failed.errorType == "DeadlineExceeded")
            #expect(failed.message?.contains("activeDeadlineSeconds") == true)

            fake.setStatus(
                Self.rayJobName, deployment: "Complete", job: "FAILED", reason: "AppFailed",
                message: "Job entrypoint command failed with exit code 1")
            let appFailed = try await launcher.job(Self.attemptID)
            #expect(appFailed.status == .failed)
            #expect(appFailed.errorType == "AppFailed")

            fake.setStatus(Self.rayJobName, deployment: "Complete", job: "STOPPED")
            #expect(try await launcher.job(Self.attemptID).status == .stopped)
        }
    }

    @Test func anUnknownJobIsNotFound() async throws {
        try await withLauncher { _, launcher, _ in
            let error = await #expect(throws: RayError.self) { try await launcher.job("no-such-attempt") }
            #expect(error?.code == .notFound)
            #expect(error?.status == 404)
            #expect(error?.reason.contains("not found") == true)
        }
    }

    // MARK: - Stop

    @Test func stopDeletesTheRayJob() async throws {
        try await withLauncher { fake, launcher, _ in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            fake.setStatus(Self.rayJobName, deployment: "Running", job: "RUNNING")
            #expect(try await launcher.stop(Self.attemptID))
            #expect(fake.rayJob(Self.rayJobName) == nil)
            let delete = try #require(fake.requests.first { $0.method == "DELETE" })
            #expect(delete.path == "/apis/ray.io/v1/namespaces/baton/rayjobs/\(Self.rayJobName)")
            #expect(delete.query == "propagationPolicy=Background")
            // The engine waits for a terminal status after stopping: a deleted job reads STOPPED.
            #expect(try await launcher.job(Self.attemptID).status == .stopped)
            #expect(try await launcher.stop(Self.attemptID) == false)
        }
    }

    @Test func stoppingAnEndedJobDeletesNothing() async throws {
        try await withLauncher { fake, launcher, _ in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            fake.setStatus(Self.rayJobName, deployment: "Complete", job: "SUCCEEDED")
            #expect(try await launcher.stop(Self.attemptID) == false)
            #expect(fake.rayJob(Self.rayJobName) != nil)
            #expect(try await launcher.stop("never-submitted") == false)
        }
    }

    // MARK: - Logs

    @Test func logsComeFromTheClustersDashboard() async throws {
        try await withLauncher { fake, launcher, port in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            // The fake serves the dashboard's Jobs API too.
            fake.setStatus(
                Self.rayJobName, deployment: "Complete", job: "SUCCEEDED", dashboardURL: "127.0.0.1:\(port)")
            fake.setDashboardLog(jobID: Self.attemptID, log: "::baton::metric {\"name\":\"loss\",\"value\":0.1}\n")
            #expect(try await launcher.logs(Self.attemptID).contains("::baton::metric"))
        }
    }

    @Test func logsFallBackToTheSubmitterPod() async throws {
        try await withLauncher { fake, launcher, _ in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            // The cluster is gone (nothing listens on port 9).
            fake.setStatus(Self.rayJobName, deployment: "Complete", job: "SUCCEEDED", dashboardURL: "127.0.0.1:9")
            fake.addPod(
                .init(
                    name: "\(Self.rayJobName)-old", labels: ["job-name": Self.rayJobName],
                    creationTimestamp: "2025-01-02T03:04:10Z", log: "first try\n"))
            fake.addPod(
                .init(
                    name: "\(Self.rayJobName)-new", labels: ["job-name": Self.rayJobName],
                    creationTimestamp: "2025-01-02T03:05:10Z", log: "::baton::output {\"name\":\"model\"}\n"))
            fake.addPod(
                .init(
                    name: "someone-else", labels: ["job-name": "other"], creationTimestamp: "2025-01-02T03:06:10Z",
                    log: "not ours\n"))
            #expect(try await launcher.logs(Self.attemptID) == "::baton::output {\"name\":\"model\"}\n")
            let list = try #require(fake.requests.first { $0.path == "/api/v1/namespaces/baton/pods" })
            #expect(list.query == "labelSelector=job-name%3D\(Self.rayJobName)")
        }
    }

    @Test func aLongLogIsReadFromItsEnd() async throws {
        let record = "::baton::output {\"name\":\"model\",\"uri\":\"file:///m\"}\n"
        let noise = String(repeating: String(repeating: "n", count: 63) + "\n", count: 60)  // 3840 bytes
        try await withLauncher(maxLogBytes: 1000) { fake, launcher, port in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            // From the cluster's dashboard: streamed, only the end kept.
            fake.setStatus(
                Self.rayJobName, deployment: "Complete", job: "SUCCEEDED", dashboardURL: "127.0.0.1:\(port)")
            fake.setDashboardLog(jobID: Self.attemptID, log: String(repeating: noise, count: 50) + record)
            let fromDashboard = try await launcher.logs(Self.attemptID)
            #expect(fromDashboard.hasSuffix(record))
            #expect(fromDashboard.utf8.count <= 1000)

            // From the submitter pod: the whole log when it fits, else its last lines (tailLines),
            // each answer bounded (limitBytes).
            fake.setStatus(Self.rayJobName, deployment: "Complete", job: "SUCCEEDED", dashboardURL: "127.0.0.1:9")
            fake.addPod(
                .init(
                    name: "\(Self.rayJobName)-pod", labels: ["job-name": Self.rayJobName],
                    creationTimestamp: "2025-01-02T03:04:10Z", log: noise + record))
            let fromPod = try await launcher.logs(Self.attemptID)
            #expect(fromPod.hasSuffix(record))
            #expect(fromPod.utf8.count <= 1000)
            #expect(fromPod.hasPrefix(String(repeating: "n", count: 63)), "starts at a whole line")
            let queries = fake.requests.filter { $0.path.hasSuffix("/log") }.map(\.query)
            #expect(queries.first == "limitBytes=1001", "\(queries)")
            #expect(queries.dropFirst().first?.contains("tailLines=100000") == true, "\(queries)")
            #expect(queries.allSatisfy { $0.contains("limitBytes=1001") }, "\(queries)")
        }
    }

    // MARK: - Authentication and errors

    @Test func everyRequestCarriesTheBearerToken() async throws {
        try await withLauncher { fake, launcher, _ in
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            _ = try await launcher.job(Self.attemptID)
            _ = try await launcher.stop(Self.attemptID)
            let requests = fake.requests
            #expect(requests.count == 4)
            #expect(requests.allSatisfy { $0.authorization == "Bearer \(Self.token)" })
        }
    }

    @Test func errorsCarryTheAPIServersMessage() async throws {
        try await withLauncher(namespace: "forbidden") { _, launcher, _ in
            let error = await #expect(throws: RayError.self) {
                try await launcher.submit(try Self.submission(), server: try await launcher.version())
            }
            #expect(error?.code == .rejected)
            #expect(error?.status == 403)
            #expect(error?.isRetriable == false)
            #expect(error?.reason.contains(#"cannot create resource "rayjobs" in API group "ray.io""#) == true)
            #expect(error?.reason.contains(Self.token) == false)
        }
    }

    @Test func aKubeconfigFileReachesTheServerWithItsToken() async throws {
        try await withLauncher { fake, _, port in
            let path = try Self.writeTemporaryFile(
                """
                apiVersion: v1
                kind: Config
                current-context: fake
                clusters:
                  - name: other
                    cluster: {server: "https://10.0.0.1:6443"}
                  - name: local
                    cluster:
                      server: http://127.0.0.1:\(port)
                      certificate-authority-data: \(Data(Self.caPEM.utf8).base64EncodedString())
                contexts:
                  - name: other
                    context: {cluster: other, user: nobody}
                  - name: fake
                    context: {cluster: local, user: baton, namespace: team-a}
                users:
                  - name: nobody
                    user: {exec: {command: gke-gcloud-auth-plugin}}
                  - name: baton
                    user: {token: kubeconfig-token}
                """, name: "config")
            let kubernetes = try KubernetesConfiguration.kubeconfig(at: path)
            #expect(kubernetes.server == "http://127.0.0.1:\(port)")
            #expect(kubernetes.namespace == "team-a")
            #expect(kubernetes.certificateAuthorityPEM == Array(Self.caPEM.utf8))
            #expect(!"\(kubernetes)".contains("kubeconfig-token"))
            let launcher = try KubeRayLauncher(
                configuration: .init(kubernetes: kubernetes, cluster: .selector(["ray.io/cluster": "shared"])),
                logger: Self.logger)
            _ = try await launcher.submit(try Self.submission(), server: try await launcher.version())
            #expect(fake.rayJob(Self.rayJobName, namespace: "team-a") != nil)
            #expect(fake.requests.last?.authorization == "Bearer kubeconfig-token")

            // The other context authenticates only through a plugin Baton does not run.
            let error = #expect(throws: KubernetesError.self) {
                try KubernetesConfiguration.kubeconfig(at: path, context: "other")
            }
            #expect(error?.code == .configuration)
            #expect(error?.reason.contains("exec") == true)
        }
    }

    // MARK: - Helpers

    static let logger = Logger(label: "test.kuberay") { _ in SwiftLogNoOpLogHandler() }

    /// A self-signed CA certificate, only parsed (never used to verify anything).
    static let caPEM = TestCertificate.caPEM

    /// What the engine submits for attempt 2 of stage `train` (RayStageExecutor.submit).
    static func submission() throws -> RayJobSubmission {
        let contract = JobContract(
            runID: "run-42", stage: "train", attemptID: attemptID,
            params: ["lr": .double(0.001), "prompt": .string("a; rm -rf / #")], inputs: [:],
            outputURI: "s3://artifacts/run-42/train/2")
        return RayJobSubmission(
            entrypoint: "python -m baton_jobs.train", submissionID: attemptID,
            runtimeEnv: [
                "working_dir": .string("/opt/jobs"),
                "env_vars": .object(try contract.environment().mapValues(JSONValue.string)),
            ],
            metadata: ["baton_run_id": "run-42", "baton_stage": "train", "baton_attempt": "2"],
            entrypointNumCPUs: 2, entrypointNumGPUs: 1, entrypointResources: ["accelerator_type:H100": 1])
    }

    /// Runs `body` with a launcher pointed at a fresh fake API server.
    func withLauncher(
        cluster: KubeRayLauncher.Configuration.Cluster = .selector(["ray.io/cluster": "shared"]),
        namespace: String = "baton",
        maxLogBytes: Int? = nil,
        _ body: @escaping @Sendable (FakeKubernetes, KubeRayLauncher, Int) async throws -> Void
    ) async throws {
        let fake = FakeKubernetes()
        try await FakeAPIServer.serve(
            fake.router(), namespace: namespace, token: Self.token, requestTimeout: .seconds(20), logger: Self.logger
        ) { kubernetes, port in
            var configuration = KubeRayLauncher.Configuration(kubernetes: kubernetes, cluster: cluster)
            configuration.activeDeadline = .seconds(3600)
            if let maxLogBytes { configuration.maxLogBytes = maxLogBytes }
            let launcher = try KubeRayLauncher(configuration: configuration, logger: Self.logger)
            try await body(fake, launcher, port)
        }
    }

    static func writeTemporaryFile(_ text: String, name: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-kuberay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appending(path: name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
}

extension JSONValue {
    var objectValue: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }
}
