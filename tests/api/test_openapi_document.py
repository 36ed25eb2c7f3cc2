"""schemas/openapi.yaml as a document: every operation is named, scoped and answers problems,
and the server's scope table (Sources/BatonAPI/OperationScopes.swift) says the same."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCUMENT = yaml.safe_load((ROOT / "schemas" / "openapi.yaml").read_text())
SCOPES_SWIFT = (ROOT / "Sources" / "BatonAPI" / "OperationScopes.swift").read_text()
SWIFT_CASES = {"runsRead": "runs:read", "runsSubmit": "runs:submit", "runsCancel": "runs:cancel",
               "modelsPromote": "models:promote", "admin": "admin"}


def operations():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield path, method, operation


def test_document_is_openapi_3_1_and_served_file_is_the_generator_input():
    assert DOCUMENT["openapi"].startswith("3.1")
    served = ROOT / "schemas" / "openapi.yaml"
    assert served.resolve() == (ROOT / "Sources" / "BatonAPI" / "openapi.yaml").resolve()


def test_every_operation_has_an_id_a_scope_and_problem_answers():
    ids = set()
    for path, method, operation in operations():
        assert "operationId" in operation, f"{method} {path} has no operationId"
        assert operation["operationId"] not in ids
        ids.add(operation["operationId"])
        scope = operation.get("x-baton-scope")
        assert scope in {"none", *SWIFT_CASES.values()}, f"{method} {path}: x-baton-scope {scope!r}"
        if scope == "none":
            assert operation.get("security") == [], f"{method} {path} is open but not marked security: []"
        else:
            for status in ("401", "403"):
                assert status in operation["responses"], f"{method} {path} does not document {status}"


def test_the_servers_scope_table_matches_the_document():
    table = dict(re.findall(r'"(\w+)": (nil|\.\w+)', SCOPES_SWIFT))
    swift = {name: ("none" if value == "nil" else SWIFT_CASES[value[1:]]) for name, value in table.items()}
    document = {operation["operationId"]: operation["x-baton-scope"] for _, _, operation in operations()}
    assert swift == document
