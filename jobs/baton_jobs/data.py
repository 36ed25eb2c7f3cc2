"""Finding and reading the stages' data (standard library only)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Optional

import baton_job

JOBS_ROOT = Path(__file__).resolve().parent.parent  # the jobs/ folder (Ray's working_dir)
DATA_DIR = JOBS_ROOT / "data"

DEFAULT_DATA = {
    "corpus": "data/corpus.jsonl",
    "instructions": "data/instructions.jsonl",
    "preferences": "data/preferences.jsonl",
    "testset": "data/testset.jsonl",
    "heldout": "data/heldout.jsonl",
}


def resolve_path(uri_or_path: str, md5: Optional[str] = None) -> Path:
    """A local path for a file:// URI, an s3:// URI (downloaded, checked against ``md5``) or a path.

    Relative paths are tried against the current directory and then the jobs/ folder; a
    leading ``jobs/`` is dropped when the job runs inside jobs/ (Ray's working_dir), so
    the reference pipeline's default ``jobs/data/corpus.jsonl`` works from either place.
    """
    if baton_job.is_s3(uri_or_path):
        return baton_job.local_path(uri_or_path, md5)
    path = baton_job.uri_to_path(uri_or_path)
    if path.is_absolute():
        return path
    candidates = [Path.cwd() / path, JOBS_ROOT / path]
    parts = path.parts
    if parts and parts[0] == "jobs":
        stripped = Path(*parts[1:]) if len(parts) > 1 else Path(".")
        candidates += [Path.cwd() / stripped, JOBS_ROOT / stripped]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"{uri_or_path!r} not found (tried {tried})")


def data_path(contract: Optional[baton_job.Contract], name: str, params: Optional[dict] = None) -> Path:
    """Where the data set `name` is: an input of that name, else a param, else the shipped file."""
    if contract is not None and name in contract.inputs:
        return resolve_path(contract.inputs[name].uri, contract.inputs[name].md5)
    params = params if params is not None else (contract.params if contract else {})
    value = params.get(name) if params else None
    if isinstance(value, str) and value:
        return resolve_path(value)
    if name in DEFAULT_DATA:
        return resolve_path(DEFAULT_DATA[name])
    raise FileNotFoundError(f"no input, param or shipped default for data set {name!r}")


def data_files(path: Path, suffixes: tuple[str, ...] = (".jsonl", ".txt")) -> list[Path]:
    """The data files of a file or a folder: JSONL and text files (sorted; hidden files,
    ``_`` markers and side files such as ``stats.json`` skipped)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes and not p.name.startswith((".", "_"))
    )
    if not files:
        raise FileNotFoundError(f"no {'/'.join(suffixes)} files under {path}")
    return files


def iter_records(path: Path, text_field: str = "text") -> Iterator[dict[str, Any]]:
    """Records of JSONL files (one object per line) or text files (one document per line)."""
    for file in data_files(path):
        with file.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                if file.suffix == ".txt":
                    yield {text_field: line}
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{file}:{lineno}: not JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{file}:{lineno}: expected a JSON object")
                yield record


def read_records(path: Path, text_field: str = "text") -> list[dict[str, Any]]:
    return list(iter_records(path, text_field))


def read_texts(path: Path, text_field: str = "text") -> list[str]:
    texts = []
    for record in iter_records(path, text_field):
        value = record.get(text_field)
        if isinstance(value, str) and value.strip():
            texts.append(value)
    return texts


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)
