import BatonCore

/// The parts of an Argo Rollout (`argoproj.io/v1alpha1`, kind `Rollout`) that Baton reads.
///
/// Unknown fields are ignored; env entries stay raw JSON so that a patch writes back the ones
/// Baton does not own (`valueFrom` included) exactly as they were.
struct ArgoRolloutObject: Decodable, Sendable {
    struct Metadata: Decodable, Sendable {
        var name: String
        var generation: Int64?
    }

    struct Container: Decodable, Sendable {
        var name: String
        var image: String?
        var env: [JSONValue]?

        /// The literal value of the env var `name`, if the container sets one.
        func environmentValue(_ name: String) -> String? {
            for entry in env ?? [] {
                guard case .object(let object) = entry, object["name"] == .string(name) else { continue }
                if case .string(let value) = object["value"] { return value }
                return nil
            }
            return nil
        }
    }

    struct Spec: Decodable, Sendable {
        struct Template: Decodable, Sendable {
            struct PodSpec: Decodable, Sendable { var containers: [Container] }
            var spec: PodSpec
        }
        struct Strategy: Decodable, Sendable {
            struct Canary: Decodable, Sendable { var steps: [[String: JSONValue]]? }
            var canary: Canary?
        }
        var template: Template
        var strategy: Strategy?
    }

    struct Status: Decodable, Sendable {
        struct Canary: Decodable, Sendable {
            struct AnalysisRunStatus: Decodable, Sendable {
                var name: String
                var status: String?
                var message: String?
            }
            var currentStepAnalysisRunStatus: AnalysisRunStatus?
        }
        /// Argo writes it as a string (`"7"`); older versions as a number.
        var observedGeneration: JSONValue?
        var currentStepIndex: Int?
        var phase: String?
        var abort: Bool?
        var message: String?
        var stableRS: String?
        var currentPodHash: String?
        var canary: Canary?
    }

    var metadata: Metadata
    var spec: Spec
    var status: Status?

    /// The canary steps Argo runs, in order.
    var steps: [ArgoCanaryStep] { (spec.strategy?.canary?.steps ?? []).map(ArgoCanaryStep.init) }

    /// Whether the controller has seen the latest spec (`status.observedGeneration` equals
    /// `metadata.generation`).
    var isObserved: Bool {
        guard let generation = metadata.generation else { return true }
        switch status?.observedGeneration {
        case .int(let observed): return observed == generation
        case .string(let observed): return Int64(observed) == generation
        default: return false
        }
    }
}

/// One step of `spec.strategy.canary.steps`, as Baton reports it.
struct ArgoCanaryStep: Sendable, Hashable {
    /// The step's key: `setWeight`, `pause`, `analysis`, `experiment`, `setCanaryScale`, ...
    var kind: String
    /// The weight this step sets, for `setWeight` steps.
    var weight: Int?

    init(_ step: [String: JSONValue]) {
        kind = step.keys.sorted().first ?? "unknown"
        weight = step["setWeight"]?.numberValue.map { Int($0) }
    }

    /// The candidate's weight once steps `0...index` have run: the last `setWeight` so far.
    static func weight(after index: Int, of steps: [ArgoCanaryStep]) -> Int {
        steps.prefix(index + 1).compactMap(\.weight).last ?? 0
    }
}
