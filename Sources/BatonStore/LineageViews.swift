import BatonCore
import Foundation

/// Which way a lineage closure walks from its roots.
public enum LineageDirection: String, Sendable, Hashable, Codable {
    /// What the roots were made from: artifact <- producing attempt <- its inputs.
    case upstream
    /// What was made from the roots: artifact -> reading attempt -> its outputs.
    case downstream
}

/// The bounds of a closure walk, within the limits the SQL functions accept.
public struct LineageBounds: Sendable, Hashable, Codable {
    /// The most attempt hops from a root, 0...1000.
    public let maxDepth: Int
    /// The most artifacts returned per root, the root included, 1...1 000 000.
    public let maxNodes: Int

    /// The SQL functions' defaults: depth 20, 10 000 nodes.
    public static let standard = LineageBounds(maxDepth: 20, maxNodes: 10_000)!

    /// Bounds for a walk; `nil` when either is outside the limits.
    public init?(maxDepth: Int, maxNodes: Int) {
        guard (0...1000).contains(maxDepth), (1...1_000_000).contains(maxNodes) else { return nil }
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }

    enum CodingKeys: String, CodingKey {
        case maxDepth = "max_depth"
        case maxNodes = "max_nodes"
    }
}

/// An artifact: a URI at a content hash.
public struct ArtifactView: Sendable, Hashable, Codable {
    /// The artifact's id in the lineage tables.
    public var id: Int64
    /// Where the artifact is.
    public var uri: String
    /// DVC's md5 (`<md5>.dir` for a folder); `nil` when the job reported none.
    public var md5: String?
    /// The content's size in bytes; nil when the job reported none.
    public var size: Int64?
    /// How many files a folder holds; nil for a file or when the job reported none.
    public var nfiles: Int?
    /// What the artifact is: as the job declared it (`dataset`, `model`, ...), else `directory` or `file`.
    public var kind: String

    /// An artifact with the given fields.
    public init(id: Int64, uri: String, md5: String?, size: Int64?, nfiles: Int?, kind: String) {
        self.id = id
        self.uri = uri
        self.md5 = md5
        self.size = size
        self.nfiles = nfiles
        self.kind = kind
    }
}

/// An artifact in a closure, with its distance from the nearest root.
public struct LineageNode: Sendable, Hashable, Codable {
    /// The artifact reached.
    public var artifact: ArtifactView
    /// Attempt hops from the nearest root (0 for a root).
    public var depth: Int
}

/// A named edge end: an attempt's input or output `name` is artifact `artifactId`.
public struct LineagePort: Sendable, Hashable, Codable {
    /// The input or output name, as the stage declares it.
    public var name: String
    /// The artifact's id.
    public var artifactId: Int64

    /// A port with the given fields.
    public init(name: String, artifactId: Int64) {
        self.name = name
        self.artifactId = artifactId
    }

    enum CodingKeys: String, CodingKey {
        case name
        case artifactId = "artifact_id"
    }
}

/// A stage attempt in a closure, with its edges to the closure's artifacts.
public struct LineageStep: Sendable, Hashable, Codable {
    /// The attempt's id.
    public var attemptId: String
    /// The run the attempt belongs to.
    public var runId: String
    /// The name of the run's pipeline.
    public var pipeline: String
    /// The stage's name.
    public var stage: String
    /// The 1-based attempt number of the stage in its run.
    public var attempt: Int
    /// The attempt's state.
    public var state: AttemptState
    /// For a cache hit, the attempt whose outputs it reused.
    public var cachedFrom: String?
    /// Digest of the attempt's code (`sha256:<hex>` or a package URI); nil without a working_dir.
    public var codeDigest: String?
    /// Inputs that are in the closure.
    public var inputs: [LineagePort]
    /// Outputs that are in the closure.
    public var outputs: [LineagePort]

    enum CodingKeys: String, CodingKey {
        case pipeline, stage, attempt, state, inputs, outputs
        case attemptId = "attempt_id"
        case runId = "run_id"
        case cachedFrom = "cached_from"
        case codeDigest = "code_digest"
    }
}

/// The closure of one or more root artifacts: every artifact once, and the attempts between them.
public struct LineageGraph: Sendable, Hashable, Codable {
    /// Which way the walk went.
    public var direction: LineageDirection
    /// The bounds the walk ran within.
    public var bounds: LineageBounds
    /// The artifacts the walk started from.
    public var roots: [Int64]
    /// Every artifact reached, roots included, by depth then id.
    public var nodes: [LineageNode]
    /// Upstream: the attempts that produced an artifact of the closure; downstream: those that
    /// read one and produced another (or nothing). By run, stage and attempt.
    public var steps: [LineageStep]
}

/// A stage attempt behind an artifact, as provenance lists it.
public struct ProvenanceAttempt: Sendable, Hashable, Codable {
    /// The attempt's id.
    public var attemptId: String
    /// Attempt hops from the artifact (1 for the attempt that produced it).
    public var depth: Int
    /// Cache hits that reused this attempt's outputs on the way to the artifact.
    public var reusedBy: [String]
    /// The run the attempt belongs to.
    public var runId: String
    /// The name of the run's pipeline.
    public var pipeline: String
    /// The stage's name.
    public var stage: String
    /// The 1-based attempt number of the stage in its run.
    public var attempt: Int
    /// The attempt's state.
    public var state: AttemptState
    /// The kind of the stage.
    public var kind: StageKind
    /// Digest of the attempt's code (`sha256:<hex>` or a package URI); nil without a working_dir.
    public var codeDigest: String?
    /// GPUs the attempt reserved; 0 when it asked for none.
    public var numGPUs: Double
    /// GPUs reserved times Ray's run time of the job.
    public var gpuSeconds: Double
    /// The params the attempt's job received.
    public var params: [String: JSONValue]
    /// Each metric's value at its last step.
    public var metrics: [String: Double]

    enum CodingKeys: String, CodingKey {
        case depth, stage, attempt, state, kind, params, metrics
        case attemptId = "attempt_id"
        case reusedBy = "reused_by"
        case runId = "run_id"
        case pipeline = "pipeline_name"
        case codeDigest = "code_digest"
        case numGPUs = "num_gpus"
        case gpuSeconds = "gpu_seconds"
    }
}

/// A root dataset of an artifact: upstream, and produced by no attempt (or declared a dataset).
public struct ProvenanceDataset: Sendable, Hashable, Codable {
    /// The dataset's artifact id.
    public var artifactId: Int64
    /// Attempt hops from the artifact.
    public var depth: Int
    /// Where the dataset is.
    public var uri: String
    /// MD5 of the content as DVC computes it (`<md5>.dir` for a folder); nil when unknown.
    public var md5: String?
    /// The content's size in bytes; nil when unknown.
    public var size: Int64?
    /// How many files a folder holds; nil for a file or when unknown.
    public var nfiles: Int?
    /// What the artifact is, e.g. `dataset`, `directory` or `file`.
    public var kind: String

    enum CodingKeys: String, CodingKey {
        case depth, uri, md5, size, nfiles, kind
        case artifactId = "artifact_id"
    }
}

/// Everything an artifact (a model) was made from: datasets, attempts, GPU-seconds.
public struct ArtifactProvenance: Sendable, Hashable, Codable {
    /// The artifact asked about.
    public var artifact: ArtifactView
    /// The root datasets upstream of the artifact.
    public var datasets: [ProvenanceDataset]
    /// Every stage attempt upstream, a cache hit counted as the attempt it reused.
    public var attempts: [ProvenanceAttempt]
    /// The sum of the attempts' GPU-seconds.
    public var gpuSeconds: Double

    enum CodingKeys: String, CodingKey {
        case artifact, datasets, attempts
        case gpuSeconds = "gpu_seconds"
    }
}

/// One read of an artifact with a given content hash by a stage attempt.
public struct DatasetRead: Sendable, Hashable, Codable {
    /// The run that read the artifact.
    public var runId: String
    /// The name of the run's pipeline.
    public var pipeline: String
    /// The run's state.
    public var runState: RunState
    /// The stage whose attempt read the artifact.
    public var stage: String
    /// The attempt that read the artifact.
    public var attemptId: String
    /// The input name the attempt read it as.
    public var input: String
    /// The artifact read.
    public var artifact: ArtifactView

    enum CodingKeys: String, CodingKey {
        case pipeline, stage, input, artifact
        case runId = "run_id"
        case runState = "run_state"
        case attemptId = "attempt_id"
    }
}

/// A stage attempt of a run with everything it read and wrote, for exports.
public struct RunStep: Sendable, Hashable, Codable {
    /// The stage's name.
    public var stage: String
    /// The attempt's id.
    public var attemptId: String
    /// For a cache hit, the attempt whose outputs it reused.
    public var cachedFrom: String?
    /// Everything the attempt read.
    public var inputs: [RunStepPort]
    /// Everything the attempt wrote.
    public var outputs: [RunStepPort]

    enum CodingKeys: String, CodingKey {
        case stage, inputs, outputs
        case attemptId = "attempt_id"
        case cachedFrom = "cached_from"
    }
}

/// An input or output of a run step, with its artifact.
public struct RunStepPort: Sendable, Hashable, Codable {
    /// The input or output name, as the stage declares it.
    public var name: String
    /// The artifact behind the name.
    public var artifact: ArtifactView
}
