"""Contract tests of Baton's event schemas (schemas/events), examples and AsyncAPI document.

They keep the schemas in step with the Swift sources: every event type in EventType.swift needs
a schema and an example, every schema's fields must be the CodingKeys of the Swift payload type
it names (``x-baton-payload``), and the enums must match StageKind and AttemptState. The Swift
side (Tests/BatonCoreTests/EventSchemaContractTests.swift) decodes and re-encodes each example.

Run with ``python3 -m pytest tests -q``.
"""

import copy
import json
import pathlib
import re
from urllib.parse import urldefrag

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from referencing import Registry, Resource

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
EVENTS = SCHEMAS / "events"
EXAMPLES = SCHEMAS / "examples"
CORE = ROOT / "Sources" / "BatonCore"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
COMMON = "common.schema.json"


# ---------------------------------------------------------------------------------------------
# Reading the Swift sources
# ---------------------------------------------------------------------------------------------


def swift_block(path, header):
    """The body of the declaration that starts with ``header`` (up to its closing brace at column 0)."""
    text = path.read_text()
    match = re.search(r"^" + re.escape(header) + r"[^\n]*\{\n(.*?)^\}", text, re.S | re.M)
    assert match, f"{header!r} not found in {path.relative_to(ROOT)}"
    return match.group(1)


def swift_enum_cases(path, name):
    """The raw values of a String enum's cases, in order (``case a, b``, ``case x = "y"``)."""
    body = swift_block(path, f"public enum {name}")
    values = []
    for line in re.findall(r"^    case ([a-z][^\n]*)$", body, re.M):
        for part in line.split(","):
            part = part.strip()
            raw = re.fullmatch(r'(\w+)\s*=\s*"([^"]*)"', part)
            values.append(raw.group(2) if raw else part)
    return values


def event_types():
    return swift_enum_cases(CORE / "EventType.swift", "EventType")


def default_topics():
    body = swift_block(CORE / "EventType.swift", "public struct EventTopics")
    return dict(re.findall(r'public var (\w+) = "([^"]*)"', body))


def swift_payload_fields(type_name):
    """A payload struct's fields as ``{json key: optional?}``, from its properties and CodingKeys."""
    body = swift_block(CORE / "EventPayloads.swift", f"public struct {type_name}")
    properties = dict(re.findall(r"^    public var (\w+): ([^\n=]+?)\s*$", body, re.M))
    keys_body = re.search(r"enum CodingKeys: String, CodingKey \{\n(.*?)\n    \}", body, re.S)
    assert keys_body, f"{type_name} has no CodingKeys"
    keys = {}
    for line in re.findall(r"^\s*case ([^\n]+)$", keys_body.group(1), re.M):
        for part in line.split(","):
            part = part.strip()
            raw = re.fullmatch(r'(\w+)\s*=\s*"([^"]*)"', part)
            keys[raw.group(1) if raw else part] = raw.group(2) if raw else part
    assert set(keys) == set(properties), f"{type_name}: CodingKeys {sorted(keys)} != properties {sorted(properties)}"
    return {keys[name]: type_text.endswith("?") for name, type_text in properties.items()}


# ---------------------------------------------------------------------------------------------
# Loading schemas
# ---------------------------------------------------------------------------------------------


def load_json(path):
    return json.loads(path.read_text())


SCHEMA_FILES = sorted(EVENTS.glob("*.schema.json"))
SCHEMA_DOCS = {path.name: load_json(path) for path in SCHEMA_FILES}
REGISTRY = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in SCHEMA_DOCS.values() if "$id" in doc
)


def schema_path(event_type):
    return EVENTS / f"{event_type}.schema.json"


def schema_of(event_type):
    return SCHEMA_DOCS[f"{event_type}.schema.json"]


def validator(event_type):
    return Draft202012Validator(schema_of(event_type), registry=REGISTRY, format_checker=FormatChecker())


def example(event_type):
    return load_json(EXAMPLES / f"{event_type}.json")


def errors(event_type, payload):
    return [error.message for error in validator(event_type).iter_errors(payload)]


def resolve(ref, base):
    """What ``ref`` points at, seen from the schema whose ``$id`` is ``base``."""
    return REGISTRY.resolver(base_uri=base).lookup(ref).contents


def payload_shape(event_type):
    """The object schema that lists the event's fields: the schema itself or the shape it refers to."""
    schema = schema_of(event_type)
    return resolve(schema["$ref"], schema["$id"]) if "$ref" in schema else schema


def walk(node, path=""):
    """Yields ``(path, dict)`` for every object in a JSON/YAML document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


EVENT_TYPES = event_types()
UPPER_ID = "557375F4-77EA-4B45-A830-371C10B04E34"
LOWER_ID = UPPER_ID.lower()


# ---------------------------------------------------------------------------------------------
# Coverage: every event type has a schema and an example, and nothing else does
# ---------------------------------------------------------------------------------------------


def test_event_types_are_parsed_from_swift():
    assert "pipeline.requested" in EVENT_TYPES and "stage.ready" in EVENT_TYPES
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES)) >= 12


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_has_a_schema_and_an_example(event_type):
    assert schema_path(event_type).is_file(), f"no schema for {event_type}: add {schema_path(event_type)}"
    assert (EXAMPLES / f"{event_type}.json").is_file(), f"no example for {event_type}"


def test_no_schema_or_example_without_an_event_type():
    schemas = {path.name.removesuffix(".schema.json") for path in SCHEMA_FILES} - {"common"}
    examples = {path.name.removesuffix(".json") for path in EXAMPLES.glob("*.json")}
    assert schemas == set(EVENT_TYPES)
    assert examples == set(EVENT_TYPES)


# ---------------------------------------------------------------------------------------------
# The schemas themselves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_schema_is_valid_draft_2020_12(path):
    schema = load_json(path)
    assert schema["$schema"] == DRAFT_2020_12
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("/events/" + path.name)
    assert schema.get("title") and len(schema.get("description", "")) > 40


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_every_ref_in_a_schema_resolves(path):
    schema = load_json(path)
    refs = [(where, node["$ref"]) for where, node in walk(schema) if isinstance(node.get("$ref"), str)]
    for where, ref in refs:
        target = resolve(ref, schema["$id"])
        assert isinstance(target, dict), f"{path.name}{where}: {ref} does not point at a schema"


def test_ids_are_unique():
    ids = [doc["$id"] for doc in SCHEMA_DOCS.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_fields_are_the_swift_coding_keys(event_type):
    schema = schema_of(event_type)
    type_name = schema.get("x-baton-payload")
    assert type_name, f"{event_type}: x-baton-payload must name the Swift payload type"
    fields = swift_payload_fields(type_name)
    shape = payload_shape(event_type)
    assert shape.get("type") == "object" and shape.get("additionalProperties") is False
    assert set(shape["properties"]) == set(fields), f"{event_type}: schema fields differ from {type_name}"
    assert set(shape.get("required", [])) == {key for key, optional in fields.items() if not optional}
    # An event schema that narrows a shared shape may only narrow fields the shape has.
    assert set(schema.get("properties", {})) <= set(fields)
    assert set(schema.get("required", [])) <= set(fields)


def test_enums_match_swift():
    common = SCHEMA_DOCS[COMMON]["$defs"]
    assert common["stageKind"]["enum"] == swift_enum_cases(CORE / "PipelineSpec.swift", "StageKind")
    assert common["attemptState"]["enum"] == swift_enum_cases(CORE / "States.swift", "AttemptState")
    run_states = swift_enum_cases(CORE / "States.swift", "RunState")
    for event_type in ("run.started", "run.succeeded", "run.failed", "run.cancelled"):
        assert schema_of(event_type)["properties"]["state"]["const"] in run_states
    assert schema_of("stage.skipped")["properties"]["state"]["const"] in swift_enum_cases(
        CORE / "States.swift", "StageState"
    )


def test_size_limits_match_the_engine():
    limits = (CORE / "SpecLimits.swift").read_text()
    limit = re.search(r"maxBytes = (\d+) \* (\d+)", limits)
    assert limit, "SpecLimits.maxBytes not found"
    properties = schema_of("pipeline.requested")["properties"]
    assert properties["spec"]["maxLength"] == int(limit.group(1)) * int(limit.group(2)) == 262144
    assert properties["idempotency_key"]["maxLength"] == 256


# ---------------------------------------------------------------------------------------------
# Examples and payloads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_example_validates(event_type):
    assert errors(event_type, example(event_type)) == []


def with_changes(event_type, remove=(), **changes):
    payload = copy.deepcopy(example(event_type))
    for key in remove:
        del payload[key]
    payload.update(changes)
    return payload


VALID = {
    "inline spec": ("pipeline.requested", {"spec": "apiVersion: baton/v1\nkind: Pipeline\n", "params": {"x": 1}}),
    "pipeline name only": ("pipeline.requested", {"pipeline": "korean-llm"}),
    "spec and its name": ("pipeline.requested", {"pipeline": "p", "spec": "metadata: {name: p}\n"}),
    "upper-case run id": ("pipeline.requested", {"pipeline": "p", "run_id": UPPER_ID}),
    "lower-case run id": ("stage.ready", with_changes("stage.ready", run_id=LOWER_ID)),
    "key of 256": ("pipeline.requested", {"pipeline": "p", "idempotency_key": "k" * 256}),
    "spec of 262144": ("pipeline.requested", {"spec": "#" * 262144}),
    "any JSON params": ("pipeline.requested", {"pipeline": "p", "params": {"a": None, "b": [1, 2.5], "c": {}}}),
    "cancel without reason": ("run.cancel", {"run_id": LOWER_ID}),
    "rejected without run id": ("run.rejected", with_changes("run.rejected", remove=["run_id"])),
    "failed by timeout": ("stage.failed", with_changes("stage.failed", state="timed_out")),
    "failed as lost": ("stage.failed", with_changes("stage.failed", state="lost")),
    "failed without error": ("stage.failed", with_changes("stage.failed", remove=["error", "error_type"])),
    "succeeded after retries": ("stage.succeeded", with_changes("stage.succeeded", attempt=3)),
}


@pytest.mark.parametrize("event_type, payload", VALID.values(), ids=VALID.keys())
def test_valid_payloads_are_accepted(event_type, payload):
    assert errors(event_type, payload) == []


INVALID = {
    "request without run id in a cancel": ("run.cancel", with_changes("run.cancel", remove=["run_id"])),
    "missing run_id": ("stage.ready", with_changes("stage.ready", remove=["run_id"])),
    "missing attempt_id": ("stage.succeeded", with_changes("stage.succeeded", remove=["attempt_id"])),
    "bad uuid": ("stage.ready", with_changes("stage.ready", run_id="not-a-uuid")),
    "uuid without hyphens": ("run.started", with_changes("run.started", run_id=LOWER_ID.replace("-", ""))),
    "uuid in braces": ("run.cancel", {"run_id": "{" + LOWER_ID + "}"}),
    "uuid as a number": ("stage.started", with_changes("stage.started", attempt_id=42)),
    "unknown state": ("stage.failed", with_changes("stage.failed", state="exploded")),
    "success state on stage.failed": ("stage.failed", with_changes("stage.failed", state="succeeded")),
    "wrong state on run.succeeded": ("run.succeeded", with_changes("run.succeeded", state="failed")),
    "unknown kind": ("stage.ready", with_changes("stage.ready", kind="spark")),
    "attempt 0": ("stage.ready", with_changes("stage.ready", attempt=0)),
    "attempt as a string": ("stage.ready", with_changes("stage.ready", attempt="1")),
    "bad pool name": ("stage.ready", with_changes("stage.ready", pool="GPU")),
    "unknown field on pipeline.requested": (
        "pipeline.requested",
        with_changes("pipeline.requested", idempotencyKey="nightly"),
    ),
    "unknown field on run.cancel": ("run.cancel", {"run_id": LOWER_ID, "force": True}),
    "unknown field on an outcome": ("stage.succeeded", with_changes("stage.succeeded", duration_ms=12)),
    "oversize idempotency key": (
        "pipeline.requested",
        with_changes("pipeline.requested", idempotency_key="k" * 257),
    ),
    "empty idempotency key": ("pipeline.requested", {"pipeline": "p", "idempotency_key": ""}),
    "oversize spec": ("pipeline.requested", {"spec": "#" * 262145}),
    "neither pipeline nor spec": ("pipeline.requested", {"params": {"x": 1}}),
    "version without pipeline": ("pipeline.requested", {"spec": "kind: Pipeline\n", "version": 2}),
    "version 0": ("pipeline.requested", {"pipeline": "p", "version": 0}),
    "bad pipeline name": ("pipeline.requested", {"pipeline": "Korean LLM"}),
    "bad param name": ("pipeline.requested", {"pipeline": "p", "params": {"Learning-Rate": 0.1}}),
    "label that is not a string": ("pipeline.requested", {"pipeline": "p", "labels": {"priority": 1}}),
    "stage on a run event": ("run.started", with_changes("run.started", stage="sft")),
    "error on stage.started": ("stage.started", with_changes("stage.started", error="boom")),
    "rejection without request_id": ("run.rejected", with_changes("run.rejected", remove=["request_id"])),
    "failed run without reason": ("run.failed", with_changes("run.failed", remove=["reason"])),
    "skip without stage": ("stage.skipped", with_changes("stage.skipped", remove=["stage"])),
    "not an object": ("run.cancel", [LOWER_ID]),
}


@pytest.mark.parametrize("event_type, payload", INVALID.values(), ids=INVALID.keys())
def test_invalid_payloads_are_rejected(event_type, payload):
    assert errors(event_type, payload), f"{event_type} accepted an invalid payload: {payload}"


# ---------------------------------------------------------------------------------------------
# AsyncAPI
# ---------------------------------------------------------------------------------------------

ASYNCAPI_PATH = SCHEMAS / "asyncapi.yaml"


@pytest.fixture(scope="module")
def asyncapi():
    return yaml.safe_load(ASYNCAPI_PATH.read_text())


def json_pointer(document, pointer):
    node = document
    for token in pointer.lstrip("/").split("/") if pointer not in ("", "/") else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def asyncapi_refs(document):
    return [(where, node["$ref"]) for where, node in walk(document) if isinstance(node.get("$ref"), str)]


def test_asyncapi_parses(asyncapi):
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"] and asyncapi["info"]["version"]
    server = asyncapi["servers"]["local"]
    assert server["protocol"] == "kafka" and server["host"] == "127.0.0.1:19092"


def test_every_asyncapi_ref_resolves(asyncapi):
    refs = asyncapi_refs(asyncapi)
    assert len(refs) > 20
    for where, ref in refs:
        target, fragment = urldefrag(ref)
        if target:
            path = (ASYNCAPI_PATH.parent / target).resolve()
            assert path.is_file(), f"{where}: {ref} names a missing file"
            document = load_json(path) if path.suffix == ".json" else yaml.safe_load(path.read_text())
        else:
            document = asyncapi
        try:
            json_pointer(document, fragment)
        except (KeyError, IndexError, ValueError, TypeError):
            pytest.fail(f"{where}: {ref} does not resolve")


def test_asyncapi_has_a_message_per_event_type(asyncapi):
    messages = {message["name"]: message for message in asyncapi["components"]["messages"].values()}
    assert set(EVENT_TYPES) <= set(messages)
    for event_type in EVENT_TYPES:
        message = messages[event_type]
        payload = message["payload"]
        assert payload["schemaFormat"] == "application/schema+json;version=draft-2020-12"
        assert payload["schema"]["$ref"] == f"./events/{event_type}.schema.json"
        assert message["headers"]["allOf"][1]["properties"]["ce_type"]["const"] == event_type


def test_asyncapi_channels_use_the_default_topics(asyncapi):
    topics = default_topics()
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == {
        topics["requested"],
        topics["runEvents"],
        topics["deadLetters"],
        topics["stageReadyPrefix"] + "{pool}",
    }


def test_every_event_type_travels_on_a_channel_and_is_produced_and_consumed(asyncapi):
    carried = {}
    for channel_name, channel in asyncapi["channels"].items():
        for message_name, message in channel["messages"].items():
            name = json_pointer(asyncapi, urldefrag(message["$ref"])[1])["name"]
            carried.setdefault(name, set()).add(f"#/channels/{channel_name}/messages/{message_name}")
    actions = {"send": set(), "receive": set()}
    for operation_name, operation in asyncapi["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), (
                f"operation {operation_name} names a message of another channel: {message['$ref']}"
            )
            actions[operation["action"]].add(json_pointer(asyncapi, urldefrag(message["$ref"])[1])["$ref"])
    for event_type in EVENT_TYPES:
        assert event_type in carried, f"{event_type} is on no channel"
        component = next(
            f"#/components/messages/{key}"
            for key, message in asyncapi["components"]["messages"].items()
            if message["name"] == event_type
        )
        assert component in actions["send"], f"no operation sends {event_type}"
        assert component in actions["receive"], f"no operation receives {event_type}"


def test_asyncapi_headers_match_the_codec(asyncapi):
    schemas = asyncapi["components"]["schemas"]
    header_schema = schemas["cloudEventHeaders"]
    Draft7Validator.check_schema(header_schema)
    codec = (CORE / "CloudEventCodec.swift").read_text()
    written = set(re.findall(r'\("((?:ce_|content-|traceparent)[\w-]*)", Array\(', codec))
    assert {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "content-type"} <= written
    assert written == set(header_schema["properties"])


def test_asyncapi_dead_letter_headers_match_the_engine(asyncapi):
    dead_letter = next(m for m in asyncapi["components"]["messages"].values() if m["name"] == "dead.letter")
    Draft7Validator.check_schema(dead_letter["headers"])
    source = (ROOT / "Sources" / "BatonEngine" / "Messaging" / "DeadLetterQueue.swift").read_text()
    written = set(re.findall(r'KafkaHeader\(key: "(baton_dlq_\w+)"', source))
    assert len(written) == 9
    # Every header but the marker of a cut payload is always written.
    assert set(dead_letter["headers"]["required"]) == written - {"baton_dlq_truncated"}
    assert set(dead_letter["headers"]["properties"]) == written
    letter = (ROOT / "Sources" / "BatonStore" / "MessagingStore+DeadLetters.swift").read_text()
    limit = re.search(r"maxError = (\d+)", letter)
    assert limit and dead_letter["headers"]["properties"]["baton_dlq_error"]["maxLength"] == int(limit.group(1))
    cut = re.search(r"maxTopicPayload = (\d+) \* (\d+)", source)
    assert cut and f"{int(cut.group(1)) * int(cut.group(2))} bytes" in dead_letter["payload"]["description"]


def test_asyncapi_run_keys_are_lower_case_uuids(asyncapi):
    key = asyncapi["components"]["messageTraits"]["keyedByRun"]["bindings"]["kafka"]["key"]
    pattern = re.compile(key["pattern"])
    assert pattern.search(LOWER_ID) and not pattern.search(UPPER_ID)
