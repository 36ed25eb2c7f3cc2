import BatonCore
import BatonHTTPClient
import BatonRay
import Foundation
import Logging
import NIOHTTP1

/// Ray Serve's applications as the canary sees them, through the REST API of the dashboard:
/// `GET /api/serve/applications/` (status and the deployed config of each application) and
/// `PUT /api/serve/applications/` (the declarative config: the whole set of applications).
///
/// A model `m` is served by a router application `m` (route `/m`, `baton_serve.router:build`)
/// whose `user_config` names the stable and candidate applications and the candidate's weight,
/// and one application per version, `m-v<N>` (`baton_serve.model:build`). Applications of other
/// models are sent back as they were deployed: a name belongs to model `m` only when it is `m`
/// or `m-v` and digits on a version application, so rolling out `llm` never touches `llm-vision`,
/// `llm-v2`'s router or `llm-v2-v1`. The GET-modify-PUT runs under
/// ``RayServeCanary/Configuration/applicationsLock``, and every call carries the Ray token.
struct RayServeCanaryApplications: Sendable {
    /// The router's routing: `{model, stable, candidate, weight}` (see `jobs/serve/baton_serve/routing.py`).
    struct Routing: Sendable, Hashable {
        var stable: RolloutModel?
        var candidate: RolloutModel?
        var weight: Int
    }

    /// Serve's REST API (the Ray dashboard).
    let serve: JSONHTTPClient
    let configuration: RayServeCanary.Configuration
    let logger: Logger

    /// Serve's applications, read and replaced whole.
    private let path = "/api/serve/applications/"

    static func routerName(_ model: String) -> String { model }
    static func versionName(_ model: String, _ version: Int) -> String { "\(model)-v\(version)" }

    /// The import path of a version application; a router with a version-like name (the model
    /// `llm-v2`) is another model's, not a version of `llm`.
    static let versionImportPath = "baton_serve.model:build"

    /// Whether application `name` (deployed with `app`, Serve's entry for it) is a version
    /// application of `model`: exactly `<model>-v<digits>`, and not a router.
    static func isVersionApplication(_ name: String, of model: String, app: JSONValue?) -> Bool {
        let prefix = "\(model)-v"
        guard name.hasPrefix(prefix) else { return false }
        let digits = name.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        if case .object(let fields)? = app, case .object(let config)? = fields["deployed_app_config"],
            case .string(let importPath)? = config["import_path"]
        {
            return importPath == versionImportPath
        }
        return true
    }

    /// Whether application `name` is model `model`'s: its router or one of its versions.
    static func belongs(_ name: String, to model: String, app: JSONValue?) -> Bool {
        name == routerName(model) || isVersionApplication(name, of: model, app: app)
    }

    /// The lock key of this Serve's applications.
    private var lockKey: String { "baton/ray-serve-applications/" + configuration.serveAddress }

    // MARK: - Reading

    /// Every application with its status, message and deployed config.
    func applications() async throws(RayServeCanaryError) -> [String: JSONValue] {
        try await read().applications
    }

    /// What one GET of the applications said.
    struct Snapshot: Sendable {
        /// Every application with its status, message and deployed config.
        var applications: [String: JSONValue]
        /// Whether the answer named Serve's controller. An answer without one says that Serve is
        /// not running, but the dashboard gives the same answer when it cannot reach a running
        /// controller for a moment (its actor lookup timed out on a busy head).
        var hasController: Bool
    }

    /// How many reads, ``emptyReadInterval`` apart, a change makes before it trusts an answer
    /// without a controller or gives up on a dashboard that does not answer (see
    /// ``applicationsToChange()``).
    static let emptyReadConfirmations = 3
    static let emptyReadInterval: Duration = .seconds(1)

    /// The applications a change is made against. An answer without a controller is read again
    /// (``emptyReadConfirmations`` in all): a PUT built on a momentary empty answer would delete
    /// every other model's applications (seen with two deploys at once: the second's GET, just
    /// after the first's PUT started Serve, named no controller and no applications). A read that
    /// fails (the dashboard blocks its Serve module while another PUT applies a config) is tried
    /// again as often.
    private func applicationsToChange() async throws(RayServeCanaryError) -> [String: JSONValue] {
        var reads = 0
        while true {
            reads += 1
            do {
                let snapshot = try await read()
                if snapshot.hasController || reads >= Self.emptyReadConfirmations { return snapshot.applications }
            } catch  where error.code == .unavailable && reads < Self.emptyReadConfirmations {
                logger.warning(
                    "Ray Serve's applications could not be read; reading again",
                    metadata: ["attempt": "\(reads)", "error": "\(error.reason)"])
            }
            try await pause(Self.emptyReadInterval, "while reading Serve's applications")
        }
    }

    private func read() async throws(RayServeCanaryError) -> Snapshot {
        let answer: JSONHTTPClient.Answer
        do {
            answer = try await serve.send(.GET, path)
        } catch {
            // Any refusal of a read may pass: Serve's controller is starting or busy.
            throw .unavailable(error.reason)
        }
        guard case .object(let root)? = try? JSONDecoder().decode(JSONValue.self, from: Data(answer.body)) else {
            throw .badResponse("Ray Serve's answer to GET \(path) is not JSON: \(Self.text(answer.body))")
        }
        var hasController = false
        if case .object(let controller)? = root["controller_info"] { hasController = !controller.isEmpty }
        guard case .object(let applications)? = root["applications"] else {
            return Snapshot(applications: [:], hasController: hasController)
        }
        return Snapshot(applications: applications, hasController: hasController)
    }

    /// The routing the model's router was last deployed with; `nil` when it has no router.
    static func currentRouting(model: String, in applications: [String: JSONValue]) -> Routing? {
        guard case .object(let app)? = applications[Self.routerName(model)],
            case .object(let config)? = app["deployed_app_config"],
            case .array(let deployments)? = config["deployments"],
            case .object(let router)? = deployments.first,
            case .object(let userConfig)? = router["user_config"],
            let weight = userConfig["weight"]?.numberValue
        else { return nil }
        func target(_ key: String) -> RolloutModel? {
            guard case .object(let value)? = userConfig[key], let version = value["version"]?.numberValue,
                case .string(let uri)? = value["uri"]
            else { return nil }
            return RolloutModel(name: model, version: Int(version), uri: uri, md5: nil)
        }
        return Routing(stable: target("stable"), candidate: target("candidate"), weight: Int(weight))
    }

    // MARK: - Deploying

    /// Deploys the model's router with `routing` (and an application per version it names; none
    /// when `routing` is `nil`), keeping every other model's applications, then waits until all
    /// of them run with this config.
    ///
    /// - Throws: ``RayServeCanaryError`` when Serve refuses the config, an application fails to
    ///   deploy, or they do not run within ``RayServeCanary/Configuration/readyTimeout``.
    func deploy(model: String, routing: Routing?, workingDir: String) async throws(RayServeCanaryError) {
        try await update(model: model, workingDir: workingDir) { _ in Change(routing: routing) }
    }

    /// A change of one model's applications: its router with `routing` and the version
    /// applications it names, or, with `routing` `nil`, none of them.
    struct Change: Sendable {
        var routing: Routing?
    }

    /// Reads Serve's applications under ``RayServeCanary/Configuration/applicationsLock``, asks
    /// `change` what the model's applications should be given them, deploys that (keeping every
    /// other model's applications) and waits until the model's run with it. A `nil` change
    /// deploys nothing: the decision and the PUT see the same applications, so no other Baton
    /// process can deploy in between.
    ///
    /// - Returns: the applications as read before the change.
    /// - Throws: ``RayServeCanaryError`` when Serve refuses the config, an application fails to
    ///   deploy, or they do not run within ``RayServeCanary/Configuration/readyTimeout``.
    @discardableResult
    func update(
        model: String, workingDir: String, change: @Sendable ([String: JSONValue]) -> Change?
    ) async throws(RayServeCanaryError) -> [String: JSONValue] {
        let result: (read: [String: JSONValue], expected: [String: JSONValue]?)
        if let lock = configuration.applicationsLock {
            do {
                result = try await lock.withLock(lockKey, waitingAtMost: lockWait) {
                    try await put(model: model, workingDir: workingDir, change: change)
                }
            } catch let error as RayServeCanaryError {
                throw error
            } catch {
                throw .unavailable(
                    "cannot take the lock on Ray Serve's applications within \(DurationParsing.format(lockWait)): "
                        + String(describing: error))
            }
        } else {
            result = try await put(model: model, workingDir: workingDir, change: change)
        }
        // Waiting needs no lock: the next deployment's GET already sees this config.
        if let expected = result.expected { try await waitUntilRunning(model: model, expected: expected) }
        return result.read
    }

    /// The longest one holder may keep the applications' lock, so the longest another waits for
    /// it: its reads (``emptyReadConfirmations``), every PUT (``putAttempts`` of
    /// ``RayServeCanary/Configuration/deployTimeout``) and the pauses between them, and a minute.
    var lockWait: Duration {
        let reads =
            configuration.requestTimeout * Self.emptyReadConfirmations
            + Self.emptyReadInterval * (Self.emptyReadConfirmations - 1)
        let puts = configuration.deployTimeout * Self.putAttempts + .seconds(Self.putAttempts * (Self.putAttempts - 1))
        return reads + puts + .seconds(60)
    }

    /// Reads every application and, unless `change` returns `nil` for them, replaces the model's
    /// own with the change's and sends the set back.
    ///
    /// - Returns: the applications as read, and the model's as sent by name (`nil` when nothing
    ///   was sent).
    private func put(
        model: String, workingDir: String, change: ([String: JSONValue]) -> Change?
    ) async throws(RayServeCanaryError) -> (read: [String: JSONValue], expected: [String: JSONValue]?) {
        let current = try await applicationsToChange()
        guard let routing = change(current).map({ $0.routing }) else { return (current, nil) }
        var apps: [JSONValue] = []
        for name in current.keys.sorted() where !Self.belongs(name, to: model, app: current[name]) {
            if case .object(let app)? = current[name], let config = app["deployed_app_config"], config != .null {
                apps.append(config)
            }
        }
        var expected: [String: JSONValue] = [:]
        if let routing {
            for version in [routing.stable, routing.candidate].compactMap({ $0 }) {
                let app = versionApplication(version, workingDir: workingDir)
                apps.append(app)
                expected[Self.versionName(model, version.version)] = app
            }
            let router = routerApplication(model: model, routing: routing, workingDir: workingDir)
            apps.append(router)
            expected[Self.routerName(model)] = router
        }
        let config: JSONValue = .object([
            "proxy_location": .string("HeadOnly"),
            "http_options": .object([
                "host": .string(configuration.httpHost), "port": .int(Int64(configuration.httpPort)),
            ]),
            "applications": .array(apps),
        ])
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(config))
        } catch {
            throw .badResponse("cannot encode the Serve config: \(error)")
        }
        try await send(config: body)
        return (current, expected)
    }

    /// How many times a PUT is sent when Serve fails it internally (HTTP 5xx: the dashboard's
    /// `serve_start` raised, e.g. because a proxy actor died while Serve was starting on a busy
    /// host); the config is declarative, so sending it again is safe.
    static let putAttempts = 4

    /// Sends the whole config; a 4xx (Serve validated and refused it) fails at once, a 5xx is
    /// sent again up to ``putAttempts`` times, 2, 4, 6 s apart, then is ``RayServeCanaryError/unavailable(_:file:line:)``.
    private func send(config body: [UInt8]) async throws(RayServeCanaryError) {
        for attempt in 1...Self.putAttempts {
            let answer: JSONHTTPClient.Answer
            do {
                answer = try await serve.send(.PUT, path, body: body, expect: nil, timeout: configuration.deployTimeout)
            } catch {
                throw .unavailable(error.reason)
            }
            if answer.status == 200 { return }
            let reason = "Ray Serve refused the applications (HTTP \(answer.status)): \(Self.text(answer.body))"
            guard answer.status >= 500 else { throw .deployFailed(reason) }
            guard attempt < Self.putAttempts else { throw .unavailable(reason + " [after \(attempt) attempts]") }
            logger.warning(
                "Ray Serve failed the applications' PUT; sending it again",
                metadata: ["status": "\(answer.status)", "attempt": "\(attempt)"])
            try await pause(.seconds(2 * attempt), "before sending the applications again: \(reason)")
        }
    }

    /// Waits `duration`; a cancelled wait is ``RayServeCanaryError/unavailable(_:file:line:)``,
    /// "cancelled `doing`".
    private func pause(_ duration: Duration, _ doing: String) async throws(RayServeCanaryError) {
        do {
            try await Task.sleep(for: duration)
        } catch {
            throw .unavailable("cancelled \(doing)")
        }
    }

    /// Polls until every expected application is RUNNING with the config sent and the model's
    /// other version applications are gone.
    private func waitUntilRunning(model: String, expected: [String: JSONValue]) async throws(RayServeCanaryError) {
        let deadline = ContinuousClock.now + configuration.readyTimeout
        var waitingFor = ""
        while ContinuousClock.now < deadline {
            let current: [String: JSONValue]
            do {
                current = try await applications()
            } catch  where error.code == .unavailable {
                // A slow or busy dashboard within the deadline is waited out like a slow deployment.
                waitingFor = "Ray Serve's dashboard to answer (\(error.reason))"
                try await pause(configuration.pollInterval, "while waiting for \(waitingFor)")
                continue
            }
            waitingFor = ""
            for (name, config) in expected.sorted(by: { $0.key < $1.key }) {
                guard case .object(let app)? = current[name] else {
                    waitingFor = "\(name) to appear"
                    break
                }
                let status = app["status"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
                if status == "DEPLOY_FAILED" || status == "UNHEALTHY" {
                    let message = app["message"].map { if case .string(let s) = $0 { s } else { "\($0)" } } ?? ""
                    throw .deployFailed("Serve application \(name) is \(status): \(message.prefix(1000))")
                }
                if status != "RUNNING" || !Self.matches(app["deployed_app_config"], config) {
                    waitingFor = "\(name) (\(status))"
                    break
                }
            }
            let stale = current.keys.filter {
                Self.isVersionApplication($0, of: model, app: current[$0]) && expected[$0] == nil
            }
            if waitingFor.isEmpty, let name = stale.sorted().first { waitingFor = "\(name) to be deleted" }
            if expected.isEmpty, current[Self.routerName(model)] != nil { waitingFor = "\(model) to be deleted" }
            if waitingFor.isEmpty { return }
            try await pause(configuration.pollInterval, "while waiting for \(waitingFor)")
        }
        throw .deployFailed(
            "Serve applications of \(model) not running within \(DurationParsing.format(configuration.readyTimeout)): "
                + "waiting for \(waitingFor)")
    }

    /// Whether Serve's deployed config has every field we sent, with our values.
    private static func matches(_ deployed: JSONValue?, _ sent: JSONValue) -> Bool {
        guard let deployed else { return false }
        switch (deployed, sent) {
        case (.object(let have), .object(let want)):
            return want.allSatisfy { key, value in matches(have[key], value) }
        case (.array(let have), .array(let want)):
            return have.count == want.count && zip(have, want).allSatisfy { matches($0, $1) }
        default:
            return deployed == sent || (deployed.numberValue != nil && deployed.numberValue == sent.numberValue)
        }
    }

    // MARK: - Config

    private func versionApplication(_ version: RolloutModel, workingDir: String) -> JSONValue {
        .object([
            "name": .string(Self.versionName(version.name, version.version)),
            "route_prefix": .string("/\(Self.versionName(version.name, version.version))"),
            "import_path": .string("baton_serve.model:build"),
            "runtime_env": .object(["working_dir": .string(workingDir)]),
            "args": .object(["uri": .string(version.uri), "version": .int(Int64(version.version))]),
        ])
    }

    private func routerApplication(model: String, routing: Routing, workingDir: String) -> JSONValue {
        func target(_ version: RolloutModel?) -> JSONValue {
            guard let version else { return .null }
            return .object([
                "app": .string(Self.versionName(model, version.version)), "version": .int(Int64(version.version)),
                "uri": .string(version.uri),
            ])
        }
        return .object([
            "name": .string(Self.routerName(model)),
            "route_prefix": .string("/\(model)"),
            "import_path": .string("baton_serve.router:build"),
            "runtime_env": .object(["working_dir": .string(workingDir)]),
            "deployments": .array([
                .object([
                    "name": .string("WeightedRouter"),
                    "user_config": .object([
                        "model": .string(model), "stable": target(routing.stable),
                        "candidate": target(routing.candidate), "weight": .int(Int64(routing.weight)),
                    ]),
                ])
            ]),
        ])
    }

    private static func text(_ body: [UInt8]) -> String {
        String(decoding: body.prefix(2000), as: UTF8.self)
    }
}
