"""Writes the JSON Schemas of custom resources from their CustomResourceDefinitions.

    python3 tests/schemas/vendor.py CRD.yaml... [--kinds Kind,Kind]

For the storage version of every CRD in the files (only the named kinds with --kinds), the one
manifests are written in, it writes ``crd/<kind>_<group>_<version>.json`` beside this file: its
``openAPIV3Schema`` without its ``description`` texts, which are most of a CRD's bytes and
nothing a validator reads. The schema is otherwise the upstream one; what the API server adds
(rejecting unknown fields) is applied by the tests. Sources and versions: README.md.
"""

import argparse
import json
import pathlib

import yaml

OUT = pathlib.Path(__file__).resolve().parent / "crd"


def without_descriptions(schema):
    """The schema with every schema-level ``description`` removed (a property named so stays)."""
    if isinstance(schema, list):
        return [without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key == "properties":
            result[key] = {name: without_descriptions(sub) for name, sub in value.items()}
        else:
            result[key] = without_descriptions(value)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=pathlib.Path)
    parser.add_argument("--kinds", default="", help="comma-separated kinds to keep (default: all)")
    args = parser.parse_args()
    kinds = {kind for kind in args.kinds.split(",") if kind}
    OUT.mkdir(exist_ok=True)
    for path in args.files:
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            kind, group = crd["spec"]["names"]["kind"], crd["spec"]["group"]
            if kinds and kind not in kinds:
                continue
            for version in crd["spec"]["versions"]:
                if not version.get("storage"):
                    continue
                schema = without_descriptions(version["schema"]["openAPIV3Schema"])
                target = OUT / f"{kind.lower()}_{group}_{version['name']}.json"
                target.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
                print(f"{target.relative_to(OUT.parent)}: {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
