import BatonCore

extension RayServeCanaryApplications {
    // MARK: - Restoring a champion

    /// What restoring `champion` does given Serve's `applications`: nothing when the model's
    /// router sends all traffic to the champion and its version application is there; a
    /// deployment when the router is missing, or when a version application it sends traffic to
    /// is; nothing either when the router sends traffic elsewhere (a canary, a version put there
    /// by hand) and every application it needs is there, or when an application has the router's
    /// name but is not a Baton router (someone else's; KubeRay's `serveConfigV2` may name one).
    /// An application Serve is deleting counts as missing.
    static func restoreOutcome(
        for champion: RolloutModel, in listed: [String: JSONValue]
    ) -> ServingRestoreOutcome {
        let applications = listed.filter { _, app in
            guard case .object(let fields) = app, case .string(let status)? = fields["status"] else { return true }
            return status != "DELETING"
        }
        let model = champion.name
        let router = routerName(model)
        guard applications[router] != nil else { return .restored(reason: "router application \(router) missing") }
        guard let routing = currentRouting(model: model, in: applications) else {
            return .leftAlone(reason: "application \(router) is not a Baton router")
        }
        // The versions that get traffic: the stable one below weight 100, the candidate above 0.
        var served: [RolloutModel] = []
        if let stable = routing.stable, routing.candidate == nil || routing.weight < 100 { served.append(stable) }
        if let candidate = routing.candidate, routing.weight > 0 { served.append(candidate) }
        let missing = served.map { versionName(model, $0.version) }.filter {
            applications[$0] == nil || !isVersionApplication($0, of: model, app: applications[$0])
        }
        if served.map(\.version) == [champion.version] {
            return missing.isEmpty ? .alreadyServing : .restored(reason: "version application \(missing[0]) missing")
        }
        guard missing.isEmpty else {
            return .restored(reason: "router \(router) routes to missing \(missing.joined(separator: ", "))")
        }
        let versions = served.map { "v\($0.version)" }.joined(separator: " and ")
        return .leftAlone(
            reason: "router \(router) routes to \(versions.isEmpty ? "no version" : versions) "
                + "(candidate weight \(routing.weight)), not to the champion v\(champion.version) alone")
    }

    /// Deploys `champion` alone behind the model's router, with its version application, when
    /// ``restoreOutcome(for:in:)`` says so for the applications read under the lock; then waits
    /// until they run.
    ///
    /// - Returns: the outcome for the applications as read under the lock.
    /// - Throws: ``RayServeCanaryError`` when Serve cannot be read or the champion not deployed.
    func restore(_ champion: RolloutModel, workingDir: String) async throws(RayServeCanaryError)
        -> ServingRestoreOutcome
    {
        let read = try await update(model: champion.name, workingDir: workingDir) { current in
            guard case .restored = Self.restoreOutcome(for: champion, in: current) else { return nil }
            return Change(routing: Routing(stable: champion, candidate: nil, weight: 0))
        }
        return Self.restoreOutcome(for: champion, in: read)
    }
}
