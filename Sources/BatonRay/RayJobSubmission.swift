import BatonCore

/// A request to run one Ray job (`POST /api/jobs/`).
///
/// Params and inputs travel in `runtimeEnv.env_vars` as JSON, never spliced into `entrypoint`.
public struct RayJobSubmission: Sendable, Hashable {
    /// The shell command Ray runs, as written in the spec.
    public var entrypoint: String
    /// Baton's attempt id: Ray refuses a second job with the same id, so a retry of the
    /// submission can never start a second job.
    public var submissionID: String
    /// `runtime_env`: working_dir, pip, env_vars, ...
    public var runtimeEnv: [String: JSONValue]
    /// Labels Ray stores with the job (run, stage, attempt).
    public var metadata: [String: String]
    /// CPUs reserved for the driver; nil reserves none.
    public var entrypointNumCPUs: Double?
    /// GPUs reserved for the driver; nil reserves none.
    public var entrypointNumGPUs: Double?
    /// Bytes.
    public var entrypointMemory: Int64?
    /// Custom resources reserved for the driver (sent only to Ray versions that know the field).
    public var entrypointResources: [String: Double]

    /// A submission with the given fields.
    public init(
        entrypoint: String, submissionID: String, runtimeEnv: [String: JSONValue] = [:],
        metadata: [String: String] = [:],
        entrypointNumCPUs: Double? = nil, entrypointNumGPUs: Double? = nil, entrypointMemory: Int64? = nil,
        entrypointResources: [String: Double] = [:]
    ) {
        self.entrypoint = entrypoint
        self.submissionID = submissionID
        self.runtimeEnv = runtimeEnv
        self.metadata = metadata
        self.entrypointNumCPUs = entrypointNumCPUs
        self.entrypointNumGPUs = entrypointNumGPUs
        self.entrypointMemory = entrypointMemory
        self.entrypointResources = entrypointResources
    }

    /// The JSON body, with only the fields the server's Ray version knows.
    func body(for server: RayServerVersion) -> [String: JSONValue] {
        var body: [String: JSONValue] = [
            "entrypoint": .string(entrypoint), "submission_id": .string(submissionID),
            "runtime_env": .object(runtimeEnv), "metadata": .object(metadata.mapValues(JSONValue.string)),
        ]
        if let entrypointNumCPUs { body["entrypoint_num_cpus"] = .double(entrypointNumCPUs) }
        if let entrypointNumGPUs { body["entrypoint_num_gpus"] = .double(entrypointNumGPUs) }
        if let entrypointMemory, server.supportsEntrypointMemory { body["entrypoint_memory"] = .int(entrypointMemory) }
        if !entrypointResources.isEmpty, server.supportsEntrypointResources {
            body["entrypoint_resources"] = .object(entrypointResources.mapValues(JSONValue.double))
        }
        return body
    }
}

/// What `GET /api/version` says about the server.
public struct RayServerVersion: Sendable, Hashable, Codable {
    /// The Jobs API version.
    public var version: String
    /// The Ray version, e.g. `2.60.0`.
    public var rayVersion: String

    enum CodingKeys: String, CodingKey {
        case version
        case rayVersion = "ray_version"
    }

    /// A server of Jobs API `version` running Ray `rayVersion`.
    public init(version: String, rayVersion: String) {
        self.version = version
        self.rayVersion = rayVersion
    }

    private var numbers: [Int] {
        rayVersion.split(separator: ".").prefix(3).map { Int($0.prefix { $0.isNumber }) ?? 0 }
    }

    private func atLeast(_ minimum: [Int]) -> Bool { numbers.lexicographicallyPrecedes(minimum) == false }

    /// `entrypoint_resources` arrived in Ray 2.2.
    var supportsEntrypointResources: Bool { atLeast([2, 2, 0]) }
    /// `entrypoint_memory` arrived in Ray 2.8.
    var supportsEntrypointMemory: Bool { atLeast([2, 8, 0]) }
}
