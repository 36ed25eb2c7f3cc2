import Yams

extension SpecReader {
    // MARK: - Notifications

    /// `notify:`: each target's name, kind (`slack` or `webhook`) with its variables, and events.
    mutating func readNotify(_ node: Node) -> [NotificationTarget] {
        guard case .sequence(let sequence) = node, sequence.count <= NotificationTarget.maxPerPipeline else {
            issue(node, "notify", "must be a list of at most \(NotificationTarget.maxPerPipeline) targets")
            return []
        }
        var targets: [NotificationTarget] = []
        for (index, item) in sequence.enumerated() {
            let path = "notify[\(index)]"
            guard let fields = mapping(item, path: path, allowed: ["name", "slack", "webhook", "on"]) else { continue }
            let name = fields["name"].flatMap { string($0, path: "\(path).name") } ?? ""
            checkName(name, node: fields["name"] ?? item, path: "\(path).name")
            if targets.contains(where: { $0.name == name }) {
                issue(item, "\(path).name", "'\(name)' is used by an earlier target")
            }
            let kind: NotificationTarget.Kind
            let settingsNode: Node
            switch (fields["slack"], fields["webhook"]) {
            case (let slack?, nil): (kind, settingsNode) = (.slack, slack)
            case (nil, let webhook?): (kind, settingsNode) = (.webhook, webhook)
            default:
                issue(item, path, "give exactly one of slack: {urlFrom} and webhook: {urlFrom, secretFrom}")
                continue
            }
            let settingsPath = "\(path).\(kind.rawValue)"
            let allowed: Set<String> = kind == .slack ? ["urlFrom"] : ["urlFrom", "secretFrom"]
            guard let settings = mapping(settingsNode, path: settingsPath, allowed: allowed) else { continue }
            let url = variable(settings["urlFrom"], in: settingsNode, path: "\(settingsPath).urlFrom", required: true)
            let secret = variable(
                settings["secretFrom"], in: settingsNode, path: "\(settingsPath).secretFrom", required: false)
            let events = Set(fields["on"].map { stringList($0, path: "\(path).on") } ?? [])
            if events.isEmpty {
                issue(fields["on"] ?? item, "\(path).on", "must list the events to notify of")
            }
            for event in events.subtracting(NotificationTarget.notifiableEvents).sorted() {
                issue(
                    fields["on"] ?? item, "\(path).on",
                    "'\(event.prefix(60))' is not an event a pipeline notifies of (\(NotificationTarget.notifiableEvents.sorted().joined(separator: ", ")))"
                )
            }
            guard let url else { continue }
            targets.append(
                NotificationTarget(name: name, kind: kind, urlVariable: url, secretVariable: secret, events: events))
        }
        return targets
    }

    /// An environment variable's name that a spec may name.
    private mutating func variable(_ node: Node?, in parent: Node, path: String, required: Bool) -> String? {
        guard let node else {
            if required { issue(parent, path, "is required: the environment variable with the URL") }
            return nil
        }
        guard let name = string(node, path: path), NotificationTarget.isAllowedVariable(name) else {
            issue(node, path, "must name BATON_SLACK_WEBHOOK_URL or a variable starting BATON_NOTIFY_")
            return nil
        }
        return name
    }
}
