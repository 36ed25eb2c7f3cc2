"""Checks recorded HTTP API exchanges against schemas/openapi.yaml.

Usage: validate_responses.py EXCHANGES.json [--partial]

EXCHANGES.json is a list of {operation, method, path, status, content_type, body} as the
Swift API tests record them. Every exchange must answer a status and content type that its
operation documents, with a body that validates against the documented schema (JSON Schema
2020-12, as OpenAPI 3.1 uses). Every operation of the document must have been exercised,
unless --partial is given (a test that checks only the operations it calls).
Prints one line per problem and exits 1 if there is any.
"""

import json
import pathlib
import sys

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCUMENT_URI = "urn:baton:openapi"


def load_document():
    return yaml.safe_load((ROOT / "schemas" / "openapi.yaml").read_text())


def operations(document):
    """operationId -> the operation object."""
    found = {}
    for path_item in document["paths"].values():
        for method, operation in path_item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                found[operation["operationId"]] = operation
    return found


def absolute_refs(node):
    """The node with every local $ref made absolute, so that the registry resolves it."""
    if isinstance(node, dict):
        return {
            key: (DOCUMENT_URI + value if key == "$ref" and value.startswith("#") else absolute_refs(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [absolute_refs(item) for item in node]
    return node


def resolve(document, node):
    """Follows a $ref to a component (responses are referenced from operations)."""
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def main(exchanges_path, partial=False):
    document = load_document()
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(absolute_refs(document), default_specification=DRAFT202012)
    )
    ops = operations(document)
    exchanges = json.loads(pathlib.Path(exchanges_path).read_text())
    problems = []
    for index, exchange in enumerate(exchanges):
        where = f"#{index} {exchange['method']} {exchange['path']} -> {exchange['status']}"
        operation = ops.get(exchange["operation"])
        if operation is None:
            problems.append(f"{where}: unknown operation {exchange['operation']}")
            continue
        response = resolve(document, operation["responses"].get(str(exchange["status"])))
        if response is None:
            problems.append(f"{where}: status {exchange['status']} is not documented for {exchange['operation']}")
            continue
        content = response.get("content", {})
        media = content.get(exchange["content_type"])
        if media is None:
            problems.append(f"{where}: content type {exchange['content_type']!r} is not documented ({sorted(content)})")
            continue
        schema = absolute_refs(media.get("schema", {}))
        if exchange["content_type"].endswith("json"):
            try:
                body = json.loads(exchange["body"])
            except json.JSONDecodeError as error:
                problems.append(f"{where}: body is not JSON: {error}")
                continue
        else:
            body = exchange["body"]
        validator = Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())
        for error in validator.iter_errors(body):
            location = "/".join(str(part) for part in error.absolute_path) or "(body)"
            problems.append(f"{where}: {location}: {error.message[:300]}")
    exercised = {exchange["operation"] for exchange in exchanges}
    for missing in [] if partial else sorted(set(ops) - exercised):
        problems.append(f"operation {missing} was never called")
    for problem in problems:
        print(problem)
    print(f"{len(exchanges)} exchanges over {len(exercised)} operations checked; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], partial="--partial" in sys.argv[2:]))
