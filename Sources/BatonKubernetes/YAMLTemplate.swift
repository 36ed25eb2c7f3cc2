import BatonCore
import Yams

/// A YAML or JSON document read as a `JSONValue`, keeping quoted scalars as strings.
///
/// Kubernetes objects are full of string maps whose values look like numbers
/// (`rayStartParams: {num-cpus: "1"}`), so a scalar is a string unless YAML resolves it as
/// a plain int, float, bool or null.
package enum YAMLTemplate {
    /// Parses `text`; `origin` names it in errors.
    ///
    /// - Throws: `KubernetesError.configuration` when it is not YAML or JSON, or is empty.
    package static func parse(_ text: String, origin: String) throws(KubernetesError) -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw .configuration("\(origin) is not valid YAML or JSON: \(error)")
        }
        guard let node else { throw .configuration("\(origin) is empty") }
        do {
            return try JSONValue(yaml: node)
        } catch {
            throw .configuration("\(origin): \(error.message)")
        }
    }
}
