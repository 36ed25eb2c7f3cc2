import BatonStore

// The store's documents that the API answers as they are (`baton runs show --json` is the same
// JSON as `GET /v1/runs/{id}`). The generator's `typeOverrides` name these aliases, because
// `BatonStore.RunView` would resolve to a member of the `BatonStore` struct.

/// A run with its stages and attempts (schema `RunView`).
typealias StoredRunView = RunView
/// A run in a listing (schema `RunSummary`).
typealias StoredRunSummary = RunSummary
/// A run the coordinator has not made yet (schema `RequestedRun`).
typealias StoredRequestedRun = RequestedRunView
/// A registered model in a listing (schema `ModelSummary`).
typealias StoredModelSummary = ModelSummary
/// A model with its versions, aliases and alias moves (schema `ModelView`).
typealias StoredModelView = ModelView
/// An upstream or downstream closure of artifacts with the attempts between them (schema `LineageGraph`).
typealias StoredLineageGraph = LineageGraph
/// Everything an artifact was made from (schema `ArtifactProvenance`).
typealias StoredArtifactProvenance = ArtifactProvenance
