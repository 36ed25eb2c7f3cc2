import BatonCore
import Foundation
import Testing

/// Keeps the Swift payload types and the JSON Schemas under `schemas/events` from drifting apart.
///
/// Each schema names its Swift type in `x-baton-payload`. Every example under `schemas/examples`
/// (which `tests/test_event_schemas.py` validates against its schema) must decode with that type
/// and re-encode to the same JSON, and the type's stored properties must be the schema's fields.
@Suite("Event schema contract")
struct EventSchemaContractTests {
    @Test("Every event type has a schema naming a known payload type, and an example")
    func everyTypeIsCovered() throws {
        for type in EventType.allCases {
            let schema = try Self.schema(type)
            let payload = try #require(schema["x-baton-payload"] as? String, "\(type.rawValue): no x-baton-payload")
            #expect(Self.payloadTypes[payload] != nil, "\(type.rawValue): unknown payload type \(payload)")
            #expect(
                FileManager.default.fileExists(atPath: Self.exampleURL(type).path(percentEncoded: false)),
                "\(type.rawValue): no example")
        }
    }

    @Test("The example decodes with the payload type and re-encodes to the same JSON", arguments: EventType.allCases)
    func exampleRoundTrips(type: EventType) throws {
        let payload = try #require(try Self.payloadType(of: type))
        let example = try Data(contentsOf: Self.exampleURL(type))
        let event = CloudEvent(source: "test", type: type.rawValue, data: Array(example))
        let encoded = try payload.roundTrip(event)
        let expected = try JSONDecoder().decode(JSONValue.self, from: example)
        let actual = try JSONDecoder().decode(JSONValue.self, from: Data(encoded))
        #expect(Self.normalised(actual) == Self.normalised(expected), "\(type.rawValue) does not round-trip")
    }

    @Test(
        "The payload type has exactly the schema's fields, optional where the schema does not require them",
        arguments: EventType.allCases)
    func fieldsMatch(type: EventType) throws {
        let payload = try #require(try Self.payloadType(of: type))
        let shape = try Self.payloadShape(type)
        let properties = try #require(shape["properties"] as? [String: Any], "\(type.rawValue): no properties")
        let required = Set(shape["required"] as? [String] ?? [])
        let example = try Data(contentsOf: Self.exampleURL(type))
        let fields = try payload.fields(CloudEvent(source: "test", type: type.rawValue, data: Array(example)))
        #expect(Set(fields.map(\.name)) == Set(properties.keys), "\(type.rawValue): fields differ from the schema")
        #expect(
            Set(fields.filter { !$0.isOptional }.map(\.name)) == required,
            "\(type.rawValue): non-optional fields differ from the schema's required ones")
    }

    // MARK: - Payload types

    /// A payload type, erased: decode an event's data with it.
    private struct PayloadType: Sendable {
        /// Decodes the data and encodes it again as Baton does.
        var roundTrip: @Sendable (CloudEvent) throws -> [UInt8]
        /// The decoded value's stored properties, as JSON keys.
        var fields: @Sendable (CloudEvent) throws -> [(name: String, isOptional: Bool)]

        init<Payload: Codable & Sendable>(_ type: Payload.Type) {
            roundTrip = { event in try CloudEvent.encode(try event.decode(Payload.self)) }
            fields = { event in
                Mirror(reflecting: try event.decode(Payload.self)).children.compactMap {
                    child -> (name: String, isOptional: Bool)? in
                    guard let label = child.label else { return nil }
                    let isOptional = Mirror(reflecting: child.value).displayStyle == .optional
                    return (EventSchemaContractTests.snakeCase(label), isOptional)
                }
            }
        }
    }

    private static let payloadTypes: [String: PayloadType] = [
        "PipelineRequested": PayloadType(PipelineRequested.self),
        "RunCancel": PayloadType(RunCancel.self),
        "StageReady": PayloadType(StageReady.self),
        "StageOutcome": PayloadType(StageOutcome.self),
        "RunNotice": PayloadType(RunNotice.self),
        "GateDecided": PayloadType(GateDecided.self),
        "ModelRegistered": PayloadType(ModelRegistered.self),
        "ModelPromoted": PayloadType(ModelPromoted.self),
        "ModelRestored": PayloadType(ModelRestored.self),
        "RolloutStepped": PayloadType(RolloutStepped.self),
        "RolloutEnded": PayloadType(RolloutEnded.self),
    ]

    private static func payloadType(of type: EventType) throws -> PayloadType? {
        try (schema(type)["x-baton-payload"] as? String).flatMap { payloadTypes[$0] }
    }

    // MARK: - Files

    /// `<repo>/schemas`, found from this file's path (`<repo>/Tests/BatonCoreTests/...`).
    private static let schemasURL = URL(filePath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appending(path: "schemas")

    private static func exampleURL(_ type: EventType) -> URL {
        schemasURL.appending(path: "examples/\(type.rawValue).json")
    }

    private static func jsonObject(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: schemasURL.appending(path: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) is no object")
    }

    private static func schema(_ type: EventType) throws -> [String: Any] {
        try jsonObject("events/\(type.rawValue).schema.json")
    }

    /// The object schema that lists the event's fields: the event's schema, or the shared shape it refers to.
    private static func payloadShape(_ type: EventType) throws -> [String: Any] {
        let schema = try schema(type)
        guard let ref = schema["$ref"] as? String else { return schema }
        let prefix = "common.schema.json#/$defs/"
        try #require(ref.hasPrefix(prefix), "\(type.rawValue): unexpected $ref \(ref)")
        let definitions = try #require(try jsonObject("events/common.schema.json")["$defs"] as? [String: Any])
        return try #require(definitions[String(ref.dropFirst(prefix.count))] as? [String: Any], "no \(ref)")
    }

    // MARK: - Helpers

    /// `runId` -> `run_id`, the naming of the payloads' CodingKeys.
    private static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
    }

    /// The value with every UUID string in lower case: Baton writes upper case and reads either.
    private static func normalised(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): UUID(uuidString: text) == nil ? value : .string(text.lowercased())
        case .array(let items): .array(items.map(normalised))
        case .object(let members): .object(members.mapValues(normalised))
        case .null, .bool, .int, .double: value
        }
    }
}
