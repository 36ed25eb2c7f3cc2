/// A spec's rule that starts a run when an alert fires (`triggers:`), e.g. retraining when the
/// served model's accuracy drops:
///
/// ```yaml
/// triggers:
///   - name: retrain-on-accuracy
///     alert: BatonModelAccuracyLow          # the alert's `alertname`
///     labels: {model: korean-llm}           # every one must equal the alert's label
///     params: {train_scale: 1}              # fixed params of the run
///     paramsFromLabels: {reason: alertname} # param <- the alert's label (string params)
/// ```
///
/// Alertmanager delivers alerts to `POST /v1/hooks/alertmanager`; each firing alert a trigger
/// matches requests one run, once per alert (its fingerprint and start), however often
/// Alertmanager sends it again.
public struct AlertTrigger: Sendable, Hashable {
    /// The trigger's name, unique in its pipeline.
    public var name: String
    /// The `alertname` it answers.
    public var alert: String
    /// Labels the alert must carry with these values.
    public var labels: [String: String]
    /// Params of the requested run, fixed.
    public var params: [String: JSONValue]
    /// Params of the requested run taken from the alert's labels: param name -> label name.
    public var paramsFromLabels: [String: String]

    /// The most triggers a pipeline may declare.
    public static let maxPerPipeline = 20
    /// The most labels, fixed params or params from labels one trigger may name.
    public static let maxEntries = 20

    /// Whether an alert with `labels` (its `alertname` among them) is one this trigger answers.
    public func matches(_ alertLabels: [String: String]) -> Bool {
        alertLabels["alertname"] == alert && labels.allSatisfy { alertLabels[$0.key] == $0.value }
    }

    /// The params of the run an alert with `alertLabels` requests: the fixed ones, then one per
    /// ``paramsFromLabels`` entry whose label the alert carries.
    public func params(for alertLabels: [String: String]) -> [String: JSONValue] {
        var result = params
        for (param, label) in paramsFromLabels {
            if let value = alertLabels[label] { result[param] = .string(value) }
        }
        return result
    }
}
