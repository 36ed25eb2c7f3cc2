import Foundation
import Yams

extension SpecReader {
    // MARK: - Schedules

    /// A `kind: Schedule` document, or `nil` when it has a problem (recorded in ``issues``).
    mutating func readSchedule(_ root: Node) -> ScheduleSpec? {
        guard let top = mapping(root, path: "", allowed: ["apiVersion", "kind", "metadata", "spec"]) else { return nil }
        if top["apiVersion"].flatMap({ string($0, path: "apiVersion") }) != "baton/v1" {
            issue(top["apiVersion"] ?? root, "apiVersion", "must be 'baton/v1'")
        }
        if top["kind"].flatMap({ string($0, path: "kind") }) != "Schedule" {
            issue(top["kind"] ?? root, "kind", "must be 'Schedule'")
        }
        var name = ""
        if let metadataNode = top["metadata"], let metadata = mapping(metadataNode, path: "metadata", allowed: ["name"])
        {
            name = metadata["name"].flatMap { string($0, path: "metadata.name") } ?? ""
            checkName(name, node: metadata["name"] ?? metadataNode, path: "metadata.name")
        } else {
            issue(root, "metadata.name", "is required")
        }
        let allowed: Set<String> = [
            "pipeline", "cron", "timeZone", "params", "concurrencyPolicy", "catchUp", "startingDeadline",
        ]
        guard let specNode = top["spec"], let spec = mapping(specNode, path: "spec", allowed: allowed) else {
            if top["spec"] == nil { issue(root, "spec", "is required: {pipeline, cron, ...}") }
            return nil
        }
        let pipeline = spec["pipeline"].flatMap { string($0, path: "spec.pipeline") } ?? ""
        checkName(pipeline, node: spec["pipeline"] ?? specNode, path: "spec.pipeline")
        var cron: CronExpression?
        if let cronNode = spec["cron"], let text = string(cronNode, path: "spec.cron") {
            do throws(CronExpression.Invalid) {
                cron = try CronExpression(text)
            } catch {
                issue(cronNode, "spec.cron", error.description)
            }
        } else {
            issue(specNode, "spec.cron", "is required, e.g. '0 3 * * *'")
        }
        var timeZone = TimeZone(identifier: "UTC")!
        if let zoneNode = spec["timeZone"], let text = string(zoneNode, path: "spec.timeZone") {
            if let zone = TimeZone(identifier: text), text.utf8.count <= 64 {
                timeZone = zone
            } else {
                issue(zoneNode, "spec.timeZone", "'\(text.prefix(64))' is not an IANA time zone such as Asia/Seoul")
            }
        }
        var params: [String: JSONValue] = [:]
        if let paramsNode = spec["params"] {
            if case .object(let object)? = value(paramsNode, path: "spec.params"), object.count <= SpecLimits.maxParams
            {
                params = object
            } else {
                issue(paramsNode, "spec.params", "must be a mapping of at most \(SpecLimits.maxParams) params")
            }
        }
        var policy = ScheduleSpec.ConcurrencyPolicy.allow
        if let policyNode = spec["concurrencyPolicy"] {
            let text = string(policyNode, path: "spec.concurrencyPolicy") ?? ""
            if let parsed = ScheduleSpec.ConcurrencyPolicy(rawValue: text) {
                policy = parsed
            } else {
                issue(policyNode, "spec.concurrencyPolicy", "must be Allow, Forbid or Replace")
            }
        }
        var catchUp = 0
        if let catchUpNode = spec["catchUp"] {
            if let number = number(catchUpNode, path: "spec.catchUp"), number == number.rounded(),
                (0...Double(ScheduleSpec.maxCatchUp)).contains(number)
            {
                catchUp = Int(number)
            } else {
                issue(catchUpNode, "spec.catchUp", "must be a whole number from 0 to \(ScheduleSpec.maxCatchUp)")
            }
        }
        let deadline = spec["startingDeadline"].flatMap { duration($0, path: "spec.startingDeadline") }
        guard issues.isEmpty, let cron else { return nil }
        return ScheduleSpec(
            name: name, pipeline: pipeline, cron: cron, timeZone: timeZone, params: params, concurrencyPolicy: policy,
            catchUp: catchUp, startingDeadline: deadline)
    }
}
