// No Kubernetes (and no KubeRay operator) can run on this machine, so these tests talk to a
// LOCAL FAKE of the Kubernetes API server (see FakeAPIServer): a Hummingbird app on 127.0.0.1 that keeps RayJobs in
// memory, answers like the API server does (201 created, 409 AlreadyExists, 404 NotFound, 403
// Forbidden with a `Status` body), lists pods and serves pod logs, and plays a Ray dashboard's
// `/api/jobs/{id}/logs`. The tests move a RayJob's status themselves, as the KubeRay operator would.

import BatonCore
import BatonKubernetesTestSupport
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// An in-memory Kubernetes API server for RayJobs and pods.
final class FakeKubernetes: Sendable {
    /// One request as the server saw it.
    struct SeenRequest: Sendable {
        var method: String
        var path: String
        var query: String
        var authorization: String?
    }

    struct Pod: Sendable {
        var name: String
        var labels: [String: String]
        var creationTimestamp: String
        var log: String
    }

    private struct State {
        /// "namespace/name" -> the object.
        var rayJobs: [String: [String: JSONValue]] = [:]
        var pods: [String: [Pod]] = [:]
        var dashboardLogs: [String: String] = [:]
        var requests: [SeenRequest] = []
        var created = 0
    }

    private let state = Mutex(State())

    // MARK: - What the tests see and do

    var requests: [SeenRequest] { state.withLock { $0.requests } }
    /// How many RayJobs were ever created.
    var createdCount: Int { state.withLock { $0.created } }

    func rayJob(_ name: String, namespace: String = "baton") -> [String: JSONValue]? {
        state.withLock { $0.rayJobs["\(namespace)/\(name)"] }
    }

    /// Moves a RayJob along, as the KubeRay operator would.
    func setStatus(
        _ name: String, namespace: String = "baton", deployment: String, job: String? = nil, reason: String? = nil,
        message: String? = nil, dashboardURL: String? = nil
    ) {
        state.withLock { state in
            guard var object = state.rayJobs["\(namespace)/\(name)"] else { return }
            var status: [String: JSONValue] = ["jobDeploymentStatus": .string(deployment)]
            if let job { status["jobStatus"] = .string(job) }
            if let reason { status["reason"] = .string(reason) }
            if let message { status["message"] = .string(message) }
            if let dashboardURL { status["dashboardURL"] = .string(dashboardURL) }
            if case .object(let spec) = object["spec"], case .string(let jobID) = spec["jobId"] {
                status["jobId"] = .string(jobID)
            }
            status["startTime"] = .string("2025-01-02T03:04:05Z")
            object["status"] = .object(status)
            state.rayJobs["\(namespace)/\(name)"] = object
        }
    }

    func addPod(_ pod: Pod, namespace: String = "baton") {
        state.withLock { $0.pods[namespace, default: []].append(pod) }
    }

    func setDashboardLog(jobID: String, log: String) {
        state.withLock { $0.dashboardLogs[jobID] = log }
    }

    // MARK: - Server

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/apis/ray.io/v1/namespaces/:ns/rayjobs") { request, context in
            let namespace = try context.parameters.require("ns")
            self.record(request)
            let body = try await request.body.collect(upTo: 1 << 20)
            if namespace == "forbidden" {
                return FakeAPIServer.status(
                    403, reason: "Forbidden",
                    message: #"rayjobs.ray.io is forbidden: User "system:serviceaccount:baton:baton" "#
                        + #"cannot create resource "rayjobs" in API group "ray.io" in the namespace "forbidden""#)
            }
            guard case .object(var object) = try JSONDecoder().decode(JSONValue.self, from: Data(Array(buffer: body))),
                case .object(var metadata) = object["metadata"], case .string(let name) = metadata["name"]
            else {
                return FakeAPIServer.status(400, reason: "BadRequest", message: "the object has no metadata.name")
            }
            return self.state.withLock { state in
                let key = "\(namespace)/\(name)"
                guard state.rayJobs[key] == nil else {
                    return FakeAPIServer.status(
                        409, reason: "AlreadyExists", message: #"rayjobs.ray.io "\#(name)" already exists"#)
                }
                metadata["uid"] = .string(UUID().uuidString.lowercased())
                metadata["creationTimestamp"] = .string("2025-01-02T03:04:00Z")
                object["metadata"] = .object(metadata)
                state.rayJobs[key] = object
                state.created += 1
                return FakeAPIServer.json(201, .object(object))
            }
        }
        router.get("/apis/ray.io/v1/namespaces/:ns/rayjobs/:name") { request, context in
            let key = "\(try context.parameters.require("ns"))/\(try context.parameters.require("name"))"
            self.record(request)
            guard let object = self.state.withLock({ $0.rayJobs[key] }) else {
                return Self.notFound(try context.parameters.require("name"))
            }
            return FakeAPIServer.json(200, .object(object))
        }
        router.delete("/apis/ray.io/v1/namespaces/:ns/rayjobs/:name") { request, context in
            let key = "\(try context.parameters.require("ns"))/\(try context.parameters.require("name"))"
            self.record(request)
            guard self.state.withLock({ $0.rayJobs.removeValue(forKey: key) }) != nil else {
                return Self.notFound(try context.parameters.require("name"))
            }
            return FakeAPIServer.json(200, .object(["kind": .string("Status"), "status": .string("Success")]))
        }
        router.get("/api/v1/namespaces/:ns/pods") { request, context in
            let namespace = try context.parameters.require("ns")
            self.record(request)
            let selector = request.uri.queryParameters["labelSelector"].map(String.init) ?? ""
            let wanted = selector.split(separator: "=", maxSplits: 1).map(String.init)
            let pods = self.state.withLock { $0.pods[namespace] ?? [] }.filter { pod in
                wanted.count == 2 && pod.labels[wanted[0]] == wanted[1]
            }
            let items: [JSONValue] = pods.map { pod in
                .object([
                    "metadata": .object([
                        "name": .string(pod.name), "creationTimestamp": .string(pod.creationTimestamp),
                        "labels": .object(pod.labels.mapValues(JSONValue.string)),
                    ])
                ])
            }
            return FakeAPIServer.json(200, .object(["kind": .string("PodList"), "items": .array(items)]))
        }
        router.get("/api/v1/namespaces/:ns/pods/:pod/log") { request, context in
            let namespace = try context.parameters.require("ns")
            let name = try context.parameters.require("pod")
            self.record(request)
            guard let pod = self.state.withLock({ $0.pods[namespace]?.first { $0.name == name } }) else {
                return FakeAPIServer.status(404, reason: "NotFound", message: #"pods "\#(name)" not found"#)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: pod.log)))
        }
        // A Ray head's dashboard (status.dashboardURL points here).
        router.get("/api/jobs/:id/logs") { request, context in
            let id = try context.parameters.require("id")
            self.record(request)
            guard let log = self.state.withLock({ $0.dashboardLogs[id] }) else {
                return FakeAPIServer.json(404, .object(["message": .string("job \(id) does not exist")]))
            }
            return FakeAPIServer.json(200, .object(["logs": .string(log)]))
        }
        return router
    }

    private func record(_ request: Request) {
        let seen = SeenRequest(
            method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
            authorization: request.headers[.authorization])
        state.withLock { $0.requests.append(seen) }
    }

    private static func notFound(_ name: String) -> Response {
        FakeAPIServer.status(404, reason: "NotFound", message: #"rayjobs.ray.io "\#(name)" not found"#)
    }
}
