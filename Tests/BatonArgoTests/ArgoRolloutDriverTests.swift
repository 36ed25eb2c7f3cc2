// No Kubernetes and no Argo Rollouts controller can run here: every test in this file talks to
// FakeArgoRollouts, a local fake of the Kubernetes API server (a Hummingbird app on 127.0.0.1,
// random port). The tests play the Argo controller by queueing the statuses it would write. What
// the fake cannot show: Argo's own step timing and analysis, the real API server's patch
// validation, TLS, RBAC.

import BatonArgo
import BatonCore
import BatonKubernetes
import BatonKubernetesTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@Suite("Argo Rollouts driver against a fake Kubernetes API server", .timeLimit(.minutes(2)))
struct ArgoRolloutDriverTests {
    static let rolloutPath = "/apis/argoproj.io/v1alpha1/namespaces/baton/rollouts/model-server"
    static let candidate = RolloutModel(
        name: "korean-llm", version: 2, uri: "s3://models/korean-llm/2", md5: "9e107d9d372bb6826bd81d3542a419d6")
    /// The spec's part of a rollout: the Argo driver runs the Rollout's own steps.
    static let rollout = RolloutSpec(target: .argo, steps: [], templates: [:])
    static let stable = RolloutModel(name: "korean-llm", version: 1, uri: "s3://models/korean-llm/1", md5: nil)

    // MARK: - Patch

    @Test func patchReplacesOnlyTheEnvOfTheNamedContainer() async throws {
        try await withDriver { fake, driver in
            fake.enqueue([.status(Self.status(step: 5, phase: "Healthy", stableRS: "new"))])
            let result = try await driver.run(
                candidate: Self.candidate, stable: Self.stable, rollout: Self.rollout, report: { _ in })
            #expect(result == .succeeded)

            let patch = try #require(fake.patches.first)
            #expect(fake.patches.count == 1)
            #expect(patch.path == Self.rolloutPath)
            #expect(patch.contentType == "application/json-patch+json")
            guard case .array(let operations) = patch.body else {
                Issue.record("the patch is not a JSON patch")
                return
            }
            // It tests the container's name first, then touches only that container's env.
            #expect(
                operations.first
                    == .object([
                        "op": .string("test"), "path": .string("/spec/template/spec/containers/0/name"),
                        "value": .string("server"),
                    ]))
            #expect(operations.count == 2)

            let rollout = try #require(fake.rollout("model-server"))
            let containers = try #require(FakeArgoRollouts.value(rollout, ["spec", "template", "spec", "containers"]))
            guard case .array(let list) = containers, list.count == 2 else {
                Issue.record("containers changed shape: \(containers)")
                return
            }
            #expect(
                FakeArgoRollouts.value(list[0], ["env"])
                    == .array([
                        Self.env("MODEL_URI", "s3://models/korean-llm/2"), Self.env("LOG_LEVEL", "info"),
                        Self.secretEnv, Self.env("MODEL_VERSION", "2"),
                        Self.env("MODEL_MD5", "9e107d9d372bb6826bd81d3542a419d6"),
                    ]))
            #expect(FakeArgoRollouts.value(list[0], ["image"]) == .string("registry.example.com/model-server:1.0"))
            #expect(list[1] == Self.sidecar)
            #expect(FakeArgoRollouts.generation(of: rollout) == 2)
        }
    }

    @Test func theImageIsSetWhenConfigured() async throws {
        try await withDriver(image: "registry.example.com/model-server:1.1") { fake, driver in
            fake.enqueue([.status(Self.status(step: 5, phase: "Healthy", stableRS: "new"))])
            _ = try await driver.run(candidate: Self.candidate, stable: nil, rollout: Self.rollout, report: { _ in })
            let rollout = try #require(fake.rollout("model-server"))
            #expect(
                FakeArgoRollouts.value(rollout, ["spec", "template", "spec", "containers", "0", "image"])
                    == .string("registry.example.com/model-server:1.1"))
        }
    }

    // MARK: - Following

    @Test func followsTheRolloutThroughEveryStepToHealthy() async throws {
        try await withDriver { fake, driver in
            fake.setAnalysisRun("model-server-7c9-2", Self.analysisRun(phase: "Successful", value: "[0.998]"))
            fake.enqueue([
                // Not yet observed: the old revision's Healthy status must not count.
                .status(Self.status(step: 5, phase: "Healthy", stableRS: "old", podHash: "old"), observed: false),
                .status(Self.status(step: 0, phase: "Progressing")),
                .status(Self.status(step: 1, phase: "Paused")),
                .unavailable,
                .status(Self.status(step: 2, phase: "Progressing", analysisRun: "model-server-7c9-2")),
                .status(Self.status(step: 3, phase: "Progressing")),
                .status(Self.status(step: 4, phase: "Paused")),
                .status(Self.status(step: 5, phase: "Healthy", stableRS: "new")),
            ])
            let reports = Reports()
            let result = try await driver.run(
                candidate: Self.candidate, stable: Self.stable, rollout: Self.rollout, report: { reports.append($0) })
            #expect(result == .succeeded)
            let seen = reports.all
            #expect(seen.map(\.index) == [0, 1, 2, 3, 4])
            #expect(seen.map(\.kind) == ["setWeight", "pause", "analysis", "setWeight", "pause"])
            #expect(seen.map(\.weight) == [20, 20, 20, 50, 50])
            #expect(seen.allSatisfy { $0.phase == "succeeded" })
            #expect(seen[2].measurements == ["success-rate": 0.998])
        }
    }

    @Test func aDegradedRolloutWithAFailedAnalysisIsAbortedWithItsMeasurement() async throws {
        try await withDriver { fake, driver in
            fake.setAnalysisRun("model-server-7c9-2", Self.analysisRun(phase: "Failed", value: "[0.91]"))
            let message =
                #"RolloutAborted: Rollout aborted update to revision 2: Metric "success-rate" assessed Failed due "#
                + "to failed (1) > failureLimit (0)"
            fake.enqueue([
                .status(Self.status(step: 1, phase: "Paused")),
                .status(Self.status(step: 2, phase: "Progressing", analysisRun: "model-server-7c9-2")),
                .status(
                    Self.status(
                        step: 2, phase: "Degraded", abort: true, message: message, analysisRun: "model-server-7c9-2")),
            ])
            let reports = Reports()
            let result = try await driver.run(
                candidate: Self.candidate, stable: Self.stable, rollout: Self.rollout, report: { reports.append($0) })
            guard case .aborted(let reason) = result else {
                Issue.record("expected an abort, got \(result)")
                return
            }
            #expect(reason.contains("failureLimit (0)"))
            #expect(reason.contains("success-rate = [0.91] (success: result[0] >= 0.99)"))
            let failed = try #require(reports.all.last)
            #expect(reports.all.map(\.index) == [0, 1, 2])
            #expect(failed.phase == "failed")
            #expect(failed.kind == "analysis")
            #expect(failed.weight == 0)
            #expect(failed.measurements == ["success-rate": 0.91])
            // Argo aborted it already: Baton patches nothing more.
            #expect(fake.patches.count == 1)
        }
    }

    @Test func aDegradedRolloutThatArgoDidNotAbortIsAbortedByBaton() async throws {
        try await withDriver { fake, driver in
            fake.enqueue([
                .status(
                    Self.status(
                        step: 0, phase: "Degraded",
                        message: "ProgressDeadlineExceeded: ReplicaSet \"model-server-7c9\" has timed out progressing.")
                )
            ])
            let result = try await driver.run(
                candidate: Self.candidate, stable: nil, rollout: Self.rollout, report: { _ in })
            guard case .aborted(let reason) = result else {
                Issue.record("expected an abort, got \(result)")
                return
            }
            #expect(reason.contains("ProgressDeadlineExceeded"))
            #expect(fake.patches.last?.path == Self.rolloutPath + "/status")
        }
    }

    @Test func batonAbortsThroughTheStatusSubresourceWhenTheRolloutTakesTooLong() async throws {
        try await withDriver(timeout: .milliseconds(400)) { fake, driver in
            fake.enqueue([.status(Self.status(step: 1, phase: "Paused"))])
            let result = try await driver.run(
                candidate: Self.candidate, stable: nil, rollout: Self.rollout, report: { _ in })
            guard case .aborted(let reason) = result else {
                Issue.record("expected an abort, got \(result)")
                return
            }
            #expect(reason.contains("not Healthy within"))
            #expect(reason.contains("phase Paused, step 1 of 5"))
            let abort = try #require(fake.patches.last)
            #expect(abort.path == Self.rolloutPath + "/status")
            #expect(abort.contentType == "application/merge-patch+json")
            #expect(abort.body == .object(["status": .object(["abort": .bool(true)])]))
            let rollout = try #require(fake.rollout("model-server"))
            #expect(FakeArgoRollouts.value(rollout, ["status", "abort"]) == .bool(true))
        }
    }

    @Test func runningAgainAfterACrashFollowsWithoutPatching() async throws {
        try await withDriver { fake, driver in
            // The first run patched the template, then its worker died at step 3.
            var rollout = try #require(fake.rollout("model-server"))
            let env: JSONValue = .array([
                Self.env("MODEL_URI", "s3://models/korean-llm/2"), Self.env("LOG_LEVEL", "info"), Self.secretEnv,
                Self.env("MODEL_VERSION", "2"), Self.env("MODEL_MD5", "9e107d9d372bb6826bd81d3542a419d6"),
            ])
            rollout = FakeArgoRollouts.setting(rollout, ["spec", "template", "spec", "containers", "0", "env"], env)
            rollout = FakeArgoRollouts.setting(rollout, ["metadata", "generation"], .int(2))
            fake.setRollout("model-server", rollout)
            fake.enqueue([
                .status(Self.status(step: 3, phase: "Progressing")),
                .status(Self.status(step: 3, phase: "Progressing")),
                .status(Self.status(step: 5, phase: "Healthy", stableRS: "new")),
            ])
            let reports = Reports()
            let result = try await driver.run(
                candidate: Self.candidate, stable: Self.stable, rollout: Self.rollout, report: { reports.append($0) })
            #expect(result == .succeeded)
            #expect(fake.patches.isEmpty)
            #expect(reports.all.map(\.index) == [0, 1, 2, 3, 4])
        }
    }

    // MARK: - Errors

    @Test func apiErrorsAreTypedAndReadable() async throws {
        try await withDriver(rollout: "missing") { _, driver in
            let error = await #expect(throws: KubernetesError.self) {
                _ = try await driver.run(
                    candidate: Self.candidate, stable: nil, rollout: Self.rollout, report: { _ in })
            }
            #expect(error?.code == .notFound)
            #expect(error?.reason.contains(#"rollouts.argoproj.io "missing" not found"#) == true)
        }
        try await withDriver(namespace: "forbidden") { _, driver in
            let error = await #expect(throws: KubernetesError.self) {
                _ = try await driver.run(
                    candidate: Self.candidate, stable: nil, rollout: Self.rollout, report: { _ in })
            }
            #expect(error?.code == .rejected)
            #expect(error?.status == 403)
            #expect(error?.reason.contains(#"cannot get resource "rollouts""#) == true)
            #expect(error?.isRetriable == false)
        }
        try await withDriver(container: "model") { fake, driver in
            let error = await #expect(throws: KubernetesError.self) {
                _ = try await driver.run(
                    candidate: Self.candidate, stable: nil, rollout: Self.rollout, report: { _ in })
            }
            #expect(error?.code == .configuration)
            #expect(error?.reason.contains(#"no container "model" (it has: server, envoy)"#) == true)
            #expect(error?.reason.contains("BATON_ARGO_CONTAINER") == true)
            #expect(fake.patches.isEmpty)
        }
    }

    @Test func aSlowAPIServerTimesOut() async throws {
        try await withDriver(requestTimeout: .milliseconds(500)) { fake, driver in
            fake.delayReads(by: .seconds(3))
            let started = ContinuousClock.now
            let error = await #expect(throws: KubernetesError.self) {
                _ = try await driver.run(
                    candidate: Self.candidate, stable: nil, rollout: Self.rollout, report: { _ in })
            }
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(error?.code == .unavailable)
            #expect(error?.isRetriable == true)
            // The client's own timer or HTTPClient's deadline, whichever fires first.
            #expect(error?.reason.contains("did not answer GET \(Self.rolloutPath)") == true)
            // Let the delayed answer go out before the fake server shuts down: NIO traps on a
            // server torn down with a request still in flight.
            try await Task.sleep(for: .seconds(3.5))
        }
    }

    // MARK: - Helpers

    static let logger = Logger(label: "test.argo") { _ in SwiftLogNoOpLogHandler() }

    /// Collects the step reports of one run.
    final class Reports: Sendable {
        private let reports = Mutex<[RolloutStepReport]>([])
        var all: [RolloutStepReport] { reports.withLock { $0 } }
        func append(_ report: RolloutStepReport) { reports.withLock { $0.append(report) } }
    }

    static func env(_ name: String, _ value: String) -> JSONValue {
        .object(["name": .string(name), "value": .string(value)])
    }

    static let secretEnv: JSONValue = .object([
        "name": .string("HF_TOKEN"),
        "valueFrom": .object(["secretKeyRef": .object(["name": .string("hf"), "key": .string("token")])]),
    ])

    static let sidecar: JSONValue = .object([
        "name": .string("envoy"), "image": .string("envoyproxy/envoy:v1.31"),
        "env": .array([env("MODEL_URI", "not-ours")]),
    ])

    /// A Rollout as `deploy/rollout-model-server.yaml` describes it, Healthy on version 1.
    static func rolloutObject(name: String) -> JSONValue {
        let steps: [JSONValue] = [
            .object(["setWeight": .int(20)]),
            .object(["pause": .object(["duration": .string("5m")])]),
            .object(["analysis": .object(["templates": .array([.object(["templateName": .string("success-rate")])])])]),
            .object(["setWeight": .int(50)]),
            .object(["pause": .object(["duration": .string("5m")])]),
        ]
        let server: JSONValue = .object([
            "name": .string("server"), "image": .string("registry.example.com/model-server:1.0"),
            "env": .array([env("MODEL_URI", "s3://models/korean-llm/1"), env("LOG_LEVEL", "info"), secretEnv]),
        ])
        return .object([
            "apiVersion": .string("argoproj.io/v1alpha1"), "kind": .string("Rollout"),
            "metadata": .object(["name": .string(name), "namespace": .string("baton"), "generation": .int(1)]),
            "spec": .object([
                "replicas": .int(4),
                "template": .object(["spec": .object(["containers": .array([server, sidecar])])]),
                "strategy": .object(["canary": .object(["steps": .array(steps)])]),
            ]),
            "status": .object(status(step: 5, phase: "Healthy", stableRS: "old", podHash: "old")),
        ])
    }

    /// A status as the Argo controller writes it (`observedGeneration` is set by the fake).
    static func status(
        step: Int, phase: String, abort: Bool = false, message: String? = nil, stableRS: String = "old",
        podHash: String = "new", analysisRun: String? = nil
    ) -> [String: JSONValue] {
        var status: [String: JSONValue] = [
            "currentStepIndex": .int(Int64(step)), "phase": .string(phase), "stableRS": .string(stableRS),
            "currentPodHash": .string(podHash),
        ]
        if abort { status["abort"] = .bool(true) }
        if let message { status["message"] = .string(message) }
        if let analysisRun {
            status["canary"] = .object([
                "currentStepAnalysisRunStatus": .object(["name": .string(analysisRun), "status": .string("Running")])
            ])
        }
        return status
    }

    static func analysisRun(phase: String, value: String) -> JSONValue {
        .object([
            "spec": .object([
                "metrics": .array([
                    .object(["name": .string("success-rate"), "successCondition": .string("result[0] >= 0.99")])
                ])
            ]),
            "status": .object([
                "phase": .string(phase),
                "metricResults": .array([
                    .object([
                        "name": .string("success-rate"), "phase": .string(phase),
                        "measurements": .array([.object(["phase": .string(phase), "value": .string(value)])]),
                    ])
                ]),
            ]),
        ])
    }

    /// Runs `body` with a driver pointed at a fresh fake API server holding `model-server`. The
    /// request timeout is generous (a loaded CI machine must not fail a test by slowness), except
    /// where a test is about timeouts.
    func withDriver(
        namespace: String = "baton", rollout: String = "model-server",
        container: String = "server", image: String? = nil, timeout: Duration = .seconds(30),
        requestTimeout: Duration = .seconds(5),
        _ body: @escaping @Sendable (FakeArgoRollouts, ArgoRolloutDriver) async throws -> Void
    ) async throws {
        let fake = FakeArgoRollouts()
        fake.setRollout("model-server", Self.rolloutObject(name: "model-server"))
        var configuration = ArgoRolloutDriver.Configuration(
            namespace: namespace, rollout: rollout, container: container)
        configuration.image = image
        configuration.timeout = timeout
        configuration.pollInterval = .milliseconds(20)
        configuration.maxPollInterval = .milliseconds(50)
        try await FakeAPIServer.serve(
            fake.router(), namespace: namespace, token: "test-token", requestTimeout: requestTimeout,
            logger: Self.logger
        ) { [configuration] kubernetes, _ in
            let kubernetesClient = try KubernetesClient(configuration: kubernetes, logger: Self.logger)
            try await body(
                fake, ArgoRolloutDriver(client: kubernetesClient, configuration: configuration, logger: Self.logger))
        }
    }
}
