import BatonCore

/// The scope each operation of `openapi.yaml` needs (its `x-baton-scope`); `nil` for the open
/// ones. A test checks this table against the document, so the two cannot drift.
enum OperationScopes {
    static let table: [String: APIScope?] = [
        "getHealth": nil,
        "getOpenAPIDocument": nil,
        "createRun": .runsSubmit,
        "listRuns": .runsRead,
        "getRun": .runsRead,
        "cancelRun": .runsCancel,
        "retryRun": .runsSubmit,
        "streamRunEvents": .runsRead,
        "getStageLog": .runsRead,
        "listPipelines": .runsRead,
        "getPipeline": .runsRead,
        "applyPipeline": .admin,
        "getLineage": .runsRead,
        "listDeadLetters": .admin,
        "replayDeadLetter": .admin,
        "discardDeadLetter": .admin,
        "listModels": .runsRead,
        "getModel": .runsRead,
        "moveModelAlias": .modelsPromote,
        "receiveAlertmanagerHook": .runsSubmit,
    ]
}
