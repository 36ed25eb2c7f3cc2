// No Kubernetes (and no Argo Rollouts controller) can run on this machine, so the Argo driver's
// tests talk to this LOCAL FAKE of the Kubernetes API server: a Hummingbird app on 127.0.0.1 that
// keeps one namespace's Rollouts and AnalysisRuns in memory, applies JSON patches (RFC 6902) and
// merge patches of `/status` as the API server does (bumping `metadata.generation` when the spec
// changes), and answers errors with a `Status` body. The tests play the Argo controller: they
// queue the statuses it would write, and each read of a Rollout after the patch takes the next one.

import BatonCore
import BatonKubernetesTestSupport
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// An in-memory Kubernetes API server for Argo Rollouts and AnalysisRuns.
final class FakeArgoRollouts: Sendable {
    /// One request as the server saw it.
    struct SeenRequest: Sendable {
        var method: String
        var path: String
        var contentType: String?
        var body: JSONValue?
    }

    /// What the controller does at one read of the Rollout.
    enum Frame: Sendable {
        /// Writes this `status`; `observed: false` leaves `observedGeneration` one behind.
        case status([String: JSONValue], observed: Bool = true)
        /// The API server answers 503 to this read.
        case unavailable
    }

    private struct State {
        var rollouts: [String: JSONValue] = [:]
        var analysisRuns: [String: JSONValue] = [:]
        var frames: [Frame] = []
        var requests: [SeenRequest] = []
        var readDelay: Duration?
    }

    private let state = Mutex(State())

    // MARK: - What the tests see and do

    var requests: [SeenRequest] { state.withLock { $0.requests } }
    var patches: [SeenRequest] { requests.filter { $0.method == "PATCH" } }

    func rollout(_ name: String) -> JSONValue? { state.withLock { $0.rollouts[name] } }
    func setRollout(_ name: String, _ object: JSONValue) { state.withLock { $0.rollouts[name] = object } }
    func setAnalysisRun(_ name: String, _ object: JSONValue) { state.withLock { $0.analysisRuns[name] = object } }
    /// Queues what the controller writes at the next reads; the last status stays once the queue is empty.
    func enqueue(_ frames: [Frame]) { state.withLock { $0.frames += frames } }
    /// Makes every read of a Rollout answer only after `delay`.
    func delayReads(by delay: Duration) { state.withLock { $0.readDelay = delay } }

    // MARK: - Server

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let base = "/apis/argoproj.io/v1alpha1/namespaces/:ns"
        router.get(RouterPath(base + "/rollouts/:name")) { request, context in
            let name = try context.parameters.require("name")
            self.record(request, body: nil)
            if let delay = self.state.withLock({ $0.readDelay }) { try await Task.sleep(for: delay) }
            if try context.parameters.require("ns") == "forbidden" { return Self.forbidden("get", name) }
            return self.state.withLock { state in
                guard var object = state.rollouts[name] else { return Self.notFound("rollouts", name) }
                // The controller moves only a Rollout that has been patched (generation > 1).
                if !state.frames.isEmpty, Self.generation(of: object) > 1 {
                    let frame = state.frames.removeFirst()
                    guard case .status(var status, let observed) = frame else {
                        return FakeAPIServer.status(503, reason: "ServiceUnavailable", message: "etcd is busy")
                    }
                    let generation = Self.generation(of: object) - (observed ? 0 : 1)
                    status["observedGeneration"] = .string(String(generation))
                    object = Self.setting(object, ["status"], .object(status))
                    state.rollouts[name] = object
                }
                return FakeAPIServer.json(200, object)
            }
        }
        router.patch(RouterPath(base + "/rollouts/:name")) { request, context in
            try await self.patch(request, context, subresource: false)
        }
        router.patch(RouterPath(base + "/rollouts/:name/status")) { request, context in
            try await self.patch(request, context, subresource: true)
        }
        router.get(RouterPath(base + "/analysisruns/:name")) { request, context in
            let name = try context.parameters.require("name")
            self.record(request, body: nil)
            guard let object = self.state.withLock({ $0.analysisRuns[name] }) else {
                return Self.notFound("analysisruns", name)
            }
            return FakeAPIServer.json(200, object)
        }
        return router
    }

    private func patch(_ request: Request, _ context: BasicRequestContext, subresource: Bool) async throws -> Response {
        let name = try context.parameters.require("name")
        let bytes = Array(buffer: try await request.body.collect(upTo: 1 << 20))
        let body = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        record(request, body: body)
        let contentType = request.headers[.contentType]
        return state.withLock { state in
            guard let object = state.rollouts[name] else { return Self.notFound("rollouts", name) }
            switch (subresource, contentType) {
            case (true, "application/merge-patch+json"):
                // Only `status` changes through the subresource.
                guard case .object(let patch) = body, case .object(let status) = patch["status"],
                    case .object(var current) = Self.value(object, ["status"]) ?? .object([:])
                else { return FakeAPIServer.status(400, reason: "BadRequest", message: "not a status patch") }
                current.merge(status) { _, new in new }
                state.rollouts[name] = Self.setting(object, ["status"], .object(current))
            case (false, "application/json-patch+json"):
                guard case .array(let operations) = body else {
                    return FakeAPIServer.status(400, reason: "BadRequest", message: "a JSON patch is a list")
                }
                var patched = object
                for case .object(let operation) in operations {
                    guard case .string(let op) = operation["op"], case .string(let path) = operation["path"] else {
                        return FakeAPIServer.status(
                            400, reason: "BadRequest", message: "an operation needs op and path")
                    }
                    let pointer = path.split(separator: "/").map(String.init)
                    switch op {
                    case "test" where Self.value(patched, pointer) != operation["value"]:
                        return FakeAPIServer.status(
                            422, reason: "Invalid",
                            message: "the server rejected our request: testing value \(path) failed")
                    case "test": continue
                    case "add", "replace": patched = Self.setting(patched, pointer, operation["value"] ?? .null)
                    default: return FakeAPIServer.status(400, reason: "BadRequest", message: "unsupported op \(op)")
                    }
                }
                if Self.value(patched, ["spec"]) != Self.value(object, ["spec"]) {
                    patched = Self.setting(patched, ["metadata", "generation"], .int(Self.generation(of: object) + 1))
                }
                state.rollouts[name] = patched
            default:
                return FakeAPIServer.status(
                    415, reason: "UnsupportedMediaType",
                    message: "the body of the request was in an unknown format - accepted media types include: "
                        + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            }
            return FakeAPIServer.json(200, state.rollouts[name] ?? .null)
        }
    }

    private func record(_ request: Request, body: JSONValue?) {
        let seen = SeenRequest(
            method: request.method.rawValue, path: request.uri.path, contentType: request.headers[.contentType],
            body: body)
        state.withLock { $0.requests.append(seen) }
    }

    // MARK: - JSON

    static func generation(of object: JSONValue) -> Int64 {
        if case .int(let generation) = value(object, ["metadata", "generation"]) { return generation }
        return 1
    }

    /// The value at a JSON pointer's tokens (object keys or list indices).
    static func value(_ root: JSONValue, _ pointer: [String]) -> JSONValue? {
        guard let token = pointer.first else { return root }
        switch root {
        case .object(let object): return object[token].flatMap { value($0, Array(pointer.dropFirst())) }
        case .array(let list):
            guard let index = Int(token), list.indices.contains(index) else { return nil }
            return value(list[index], Array(pointer.dropFirst()))
        default: return nil
        }
    }

    /// `root` with the value at `pointer` set (objects on the way are made when missing).
    static func setting(_ root: JSONValue, _ pointer: [String], _ new: JSONValue) -> JSONValue {
        guard let token = pointer.first else { return new }
        let rest = Array(pointer.dropFirst())
        switch root {
        case .array(var list):
            guard let index = Int(token), list.indices.contains(index) else { return root }
            list[index] = setting(list[index], rest, new)
            return .array(list)
        case .object(var object):
            object[token] = setting(object[token] ?? .object([:]), rest, new)
            return .object(object)
        default:
            return .object([token: setting(.object([:]), rest, new)])
        }
    }

    private static func notFound(_ resource: String, _ name: String) -> Response {
        FakeAPIServer.status(404, reason: "NotFound", message: #"\#(resource).argoproj.io "\#(name)" not found"#)
    }

    private static func forbidden(_ verb: String, _ name: String) -> Response {
        FakeAPIServer.status(
            403, reason: "Forbidden",
            message: #"rollouts.argoproj.io "\#(name)" is forbidden: User "system:serviceaccount:baton:baton" "#
                + #"cannot \#(verb) resource "rollouts" in API group "argoproj.io" in the namespace "forbidden""#)
    }
}
