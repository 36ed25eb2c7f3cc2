/// The environment a stage's job receives (DESIGN: the job contract).
///
/// Params and inputs are JSON in environment variables, never spliced into the entrypoint,
/// so no value can inject a shell command.
public struct JobContract: Sendable, Hashable {
    /// The run's id (`BATON_RUN_ID`).
    public var runID: String
    /// The stage's name (`BATON_STAGE`).
    public var stage: String
    /// The attempt's id (`BATON_ATTEMPT_ID`).
    public var attemptID: String
    /// The run's params merged with the stage's own params (stage wins).
    public var params: [String: JSONValue]
    /// Input name -> `{"uri":..,"md5":..}`.
    public var inputs: [String: JSONValue]
    /// Where the job writes its outputs.
    public var outputURI: String

    /// A contract with the given fields.
    public init(
        runID: String, stage: String, attemptID: String, params: [String: JSONValue], inputs: [String: JSONValue],
        outputURI: String
    ) {
        self.runID = runID
        self.stage = stage
        self.attemptID = attemptID
        self.params = params
        self.inputs = inputs
        self.outputURI = outputURI
    }

    /// The `BATON_*` variables.
    public func environment() throws -> [String: String] {
        [
            "BATON_RUN_ID": runID,
            "BATON_STAGE": stage,
            "BATON_ATTEMPT_ID": attemptID,
            "BATON_PARAMS": String(decoding: try CloudEvent.encode(params), as: UTF8.self),
            "BATON_INPUTS": String(decoding: try CloudEvent.encode(inputs), as: UTF8.self),
            "BATON_OUTPUT_URI": outputURI,
        ]
    }
}
