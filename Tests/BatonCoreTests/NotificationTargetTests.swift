import BatonCore
import Testing

/// `notify:` in a spec: targets read, and what a spec may not name.
@Suite("Notification targets")
struct NotificationTargetTests {
    static func spec(_ target: String) -> String {
        """
        apiVersion: baton/v1
        kind: Pipeline
        metadata: {name: notified}
        notify:
          - \(target)
        stages:
          - {name: work, kind: noop}
        """
    }

    @Test("A Slack target and a signed webhook are read with their variables and events")
    func read() throws {
        let slack = try PipelineSpecParser.parse(
            Self.spec("{name: team, slack: {urlFrom: BATON_SLACK_WEBHOOK_URL}, on: [run.failed, gate.failed]}"))
        #expect(slack.notify.first?.kind == .slack && slack.notify.first?.events == ["run.failed", "gate.failed"])
        let webhook = try PipelineSpecParser.parse(
            Self.spec(
                "{name: audit, webhook: {urlFrom: BATON_NOTIFY_AUDIT_URL, secretFrom: BATON_NOTIFY_KEY}, on: [model.promoted]}"
            ))
        #expect(webhook.notify.first?.secretVariable == "BATON_NOTIFY_KEY")
    }

    @Test(
        "A spec cannot read other settings, name unknown events, or give both or neither kind",
        arguments: [
            ("{name: x, slack: {urlFrom: BATON_DATABASE_URL}, on: [run.failed]}", "must name BATON_SLACK_WEBHOOK_URL"),
            (
                "{name: x, webhook: {urlFrom: BATON_NOTIFY_URL, secretFrom: AWS_SECRET_ACCESS_KEY}, on: [run.failed]}",
                "secretFrom: must name"
            ),
            (
                "{name: x, slack: {urlFrom: BATON_SLACK_WEBHOOK_URL}, on: [stage.ready]}",
                "'stage.ready' is not an event"
            ),
            ("{name: x, slack: {urlFrom: BATON_SLACK_WEBHOOK_URL}}", "notify[0].on: must list the events"),
            ("{name: x, on: [run.failed]}", "give exactly one of slack"),
            ("{name: x, slack: {}, on: [run.failed]}", "notify[0].slack.urlFrom: is required"),
        ])
    func refused(target: String, problem: String) {
        let error = #expect(throws: SpecError.self) { try PipelineSpecParser.parse(Self.spec(target)) }
        #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
    }
}
