"""The Baton job helper: the job side of the job contract (DESIGN.md, "The job contract").

Standard library only, so any Ray job can import it from its working directory.

The engine starts a stage's Ray job with these environment variables:

    BATON_RUN_ID       the run's id
    BATON_STAGE        the stage's name
    BATON_ATTEMPT_ID   the attempt's id (also the Ray submission id)
    BATON_PARAMS       JSON object: the run's params merged with the stage's params
    BATON_INPUTS       JSON object: input name -> {"uri": ..., "md5": ...}
    BATON_OUTPUT_URI   where the job writes its outputs (file:// URI or a local path)

and the job reports back on stdout with one-line records that the job watcher reads
from the Ray job log:

    ::baton::output {"name":"model","uri":"file:///...","md5":"<md5>.dir","size":123,"nfiles":4}
    ::baton::metric {"key":"loss","value":1.25,"step":10}

Hashes are DVC-compatible (DVC 3, ``md5``): a file's hash is the md5 of its bytes; a
folder's hash is the md5 of ``json.dumps(entries, sort_keys=True)`` where ``entries``
is the list of ``{"md5": <file md5>, "relpath": <posix path>}`` of every file under it,
sorted by relpath, with ``.dir`` appended (dvc_data.hashfile.tree.Tree.digest).

Typical use::

    import baton_job
    job = baton_job.Contract.from_env()
    corpus = job.input_path("corpus")
    out = job.output_path("dataset")          # <BATON_OUTPUT_URI>/dataset, created
    ... write files under out ...
    baton_job.emit_metric("rows", 1234)
    baton_job.emit_output("dataset", out)     # hashes the folder, prints the record
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Mapping, Optional

__all__ = [
    "ContractError",
    "Input",
    "Contract",
    "file_md5",
    "dir_md5",
    "path_info",
    "uri_to_path",
    "path_to_uri",
    "output_record",
    "metric_record",
    "emit_output",
    "emit_metric",
    "emit_metrics",
]

RECORD_PREFIX = "::baton::"
ENV_VARS = (
    "BATON_RUN_ID",
    "BATON_STAGE",
    "BATON_ATTEMPT_ID",
    "BATON_PARAMS",
    "BATON_INPUTS",
    "BATON_OUTPUT_URI",
)
_CHUNK = 1024 * 1024


class ContractError(RuntimeError):
    """The job contract is missing or malformed; the message says what to fix."""


# --------------------------------------------------------------------------- URIs


def uri_to_path(uri: str) -> Path:
    """A local path for a ``file://`` URI or a plain path.

    Other schemes (s3://, gs://, ...) are refused with a readable error: mount the
    store and pass a file:// URI, or extend this helper.
    """
    if not isinstance(uri, str) or not uri:
        raise ContractError(f"expected a file:// URI or a local path, got {uri!r}")
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ContractError(f"file URI with a remote host is not supported: {uri!r}")
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(uri)
    raise ContractError(
        f"unsupported URI scheme {parsed.scheme!r} in {uri!r}: this job reads and writes "
        "local files only (file:// or a path); mount remote storage and pass a file:// URI"
    )


def path_to_uri(path: os.PathLike[str] | str) -> str:
    """The ``file://`` URI of a local path (made absolute)."""
    return Path(path).resolve().as_uri()


# --------------------------------------------------------------------------- hashing


def file_md5(path: os.PathLike[str] | str) -> str:
    """DVC 3 md5 of a file: the md5 of its bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _walk_files(root: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for name in filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            files.append((rel, full))
    files.sort(key=lambda item: item[0])
    return files


def dir_entries(path: os.PathLike[str] | str) -> list[dict[str, str]]:
    """The entries DVC hashes for a folder: ``[{"md5":..,"relpath":..}]`` sorted by relpath."""
    root = Path(path)
    return [{"md5": file_md5(full), "relpath": rel} for rel, full in _walk_files(root)]


def dir_md5(path: os.PathLike[str] | str) -> str:
    """DVC's ``.dir`` hash of a folder (empty folder: ``d751713988987e9331980363e24189ce.dir``)."""
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    payload = json.dumps(dir_entries(root), sort_keys=True).encode("utf-8")
    return hashlib.md5(payload).hexdigest() + ".dir"


def path_info(path: os.PathLike[str] | str) -> dict[str, Any]:
    """md5, size (bytes) and nfiles of a file or a folder, as an output record carries them."""
    p = Path(path)
    if p.is_dir():
        files = _walk_files(p)
        entries = [{"md5": file_md5(full), "relpath": rel} for rel, full in files]
        payload = json.dumps(entries, sort_keys=True).encode("utf-8")
        return {
            "md5": hashlib.md5(payload).hexdigest() + ".dir",
            "size": sum(full.stat().st_size for _, full in files),
            "nfiles": len(files),
        }
    if p.is_file():
        return {"md5": file_md5(p), "size": p.stat().st_size, "nfiles": 1}
    raise FileNotFoundError(f"output does not exist: {p}")


# --------------------------------------------------------------------------- records


def _dumps(obj: Mapping[str, Any]) -> str:
    # One line, compact, ASCII-only (a log line survives any encoding on the way).
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _check_name(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{kind} must be a non-empty string, got {value!r}")
    if "\n" in value or "\r" in value:
        raise ValueError(f"{kind} must be a single line, got {value!r}")
    if len(value.encode("utf-8")) > 200:
        raise ValueError(f"{kind} is longer than 200 bytes: {value[:40]!r}...")
    return value


def output_record(
    name: str,
    uri: str,
    md5: Optional[str] = None,
    size: Optional[int] = None,
    nfiles: Optional[int] = None,
) -> str:
    """The ``::baton::output`` line (without newline) for an output."""
    _check_name("output name", name)
    if not isinstance(uri, str) or not uri or "\n" in uri:
        raise ValueError(f"output uri must be a non-empty single-line string, got {uri!r}")
    record: dict[str, Any] = {"name": name, "uri": uri}
    if md5 is not None:
        record["md5"] = str(md5)
    if size is not None:
        record["size"] = int(size)
    if nfiles is not None:
        record["nfiles"] = int(nfiles)
    return f"{RECORD_PREFIX}output {_dumps(record)}"


def metric_record(key: str, value: float, step: int = 0) -> str:
    """The ``::baton::metric`` line (without newline) for a metric value."""
    _check_name("metric key", key)
    if isinstance(value, bool):
        value = float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {key!r}: value must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"metric {key!r}: value must be finite, got {value!r}")
    if isinstance(step, bool) or int(step) != step:
        raise ValueError(f"metric {key!r}: step must be an integer, got {step!r}")
    # Keep integers integral in the log (7, not 7.0) - both parse as a Double.
    out_value: float | int = int(number) if isinstance(value, int) else number
    return f"{RECORD_PREFIX}metric {_dumps({'key': key, 'value': out_value, 'step': int(step)})}"


def _write(line: str, stream: Optional[IO[str]]) -> None:
    out = stream if stream is not None else sys.stdout
    out.write(line + "\n")
    out.flush()


def emit_output(
    name: str,
    path_or_uri: os.PathLike[str] | str,
    *,
    md5: Optional[str] = None,
    size: Optional[int] = None,
    nfiles: Optional[int] = None,
    stream: Optional[IO[str]] = None,
) -> dict[str, Any]:
    """Report an output. A local file or folder is hashed (md5/size/nfiles) unless given.

    Returns the record's fields.
    """
    text = os.fspath(path_or_uri)
    parsed = urllib.parse.urlparse(text)
    local: Optional[Path] = None
    if parsed.scheme in ("", "file"):
        local = uri_to_path(text)
        uri = path_to_uri(local)
    else:
        uri = text
    fields: dict[str, Any] = {"md5": md5, "size": size, "nfiles": nfiles}
    if local is not None and (md5 is None or size is None or nfiles is None):
        info = path_info(local)
        for key, value in info.items():
            if fields[key] is None:
                fields[key] = value
    _write(output_record(name, uri, **fields), stream)
    return {"name": name, "uri": uri, **fields}


def emit_metric(key: str, value: float, step: int = 0, *, stream: Optional[IO[str]] = None) -> None:
    """Report one metric value (at a step: loss curves are many values of one key)."""
    _write(metric_record(key, value, step), stream)


def emit_metrics(values: Mapping[str, float], step: int = 0, *, stream: Optional[IO[str]] = None) -> None:
    """Report several metrics at one step; non-finite values are skipped with a warning."""
    for key, value in values.items():
        try:
            _write(metric_record(key, value, step), stream)
        except ValueError as exc:
            print(f"baton_job: skipped metric: {exc}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- contract


@dataclass(frozen=True)
class Input:
    """One input of the stage: where it is and its content hash (when known)."""

    name: str
    uri: str
    md5: Optional[str] = None

    @property
    def path(self) -> Path:
        return uri_to_path(self.uri)


def _env_json(env: Mapping[str, str], var: str, default: str) -> Any:
    raw = env.get(var)
    if raw is None or raw.strip() == "":
        raw = default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"{var} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
            f"{raw[:120]!r}"
        ) from None


def _parse_inputs(value: Any) -> dict[str, Input]:
    if not isinstance(value, dict):
        raise ContractError(f"BATON_INPUTS must be a JSON object (name -> {{uri, md5}}), got {type(value).__name__}")
    inputs: dict[str, Input] = {}
    for name, spec in value.items():
        if isinstance(spec, str):  # liberal: a bare URI
            inputs[name] = Input(name, spec)
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("uri"), str) or not spec["uri"]:
            raise ContractError(
                f"BATON_INPUTS[{name!r}] must be an object with a non-empty \"uri\", got {spec!r}"
            )
        md5 = spec.get("md5")
        inputs[name] = Input(name, spec["uri"], md5 if isinstance(md5, str) else None)
    return inputs


@dataclass
class Contract:
    """What the engine gave this job."""

    run_id: str
    stage: str
    attempt_id: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Input] = field(default_factory=dict)
    output_uri: str = ""

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Contract":
        """Read the contract from the environment; a missing or malformed variable is a
        ContractError that names it and shows how to run the job by hand."""
        env = os.environ if env is None else env
        missing = [v for v in ("BATON_RUN_ID", "BATON_STAGE", "BATON_ATTEMPT_ID", "BATON_OUTPUT_URI") if not env.get(v)]
        if missing:
            raise ContractError(
                "the Baton job contract is missing: "
                + ", ".join(missing)
                + " not set. Baton sets these when it launches a stage; to run by hand, e.g.\n"
                "  BATON_RUN_ID=dev BATON_STAGE=preprocess BATON_ATTEMPT_ID=dev-1 \\\n"
                "  BATON_PARAMS='{\"profile\":\"tiny\"}' \\\n"
                "  BATON_INPUTS='{\"corpus\":{\"uri\":\"data/corpus.jsonl\"}}' \\\n"
                "  BATON_OUTPUT_URI=file:///tmp/baton-dev/preprocess python -m baton_jobs.preprocess"
            )
        params = _env_json(env, "BATON_PARAMS", "{}")
        if not isinstance(params, dict):
            raise ContractError(f"BATON_PARAMS must be a JSON object, got {type(params).__name__}")
        inputs = _parse_inputs(_env_json(env, "BATON_INPUTS", "{}"))
        output_uri = env["BATON_OUTPUT_URI"]
        uri_to_path(output_uri)  # validate early: an unusable output is a contract error
        return cls(
            run_id=env["BATON_RUN_ID"],
            stage=env["BATON_STAGE"],
            attempt_id=env["BATON_ATTEMPT_ID"],
            params=params,
            inputs=inputs,
            output_uri=output_uri,
        )

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def input(self, name: str) -> Input:
        try:
            return self.inputs[name]
        except KeyError:
            have = ", ".join(sorted(self.inputs)) or "none"
            raise ContractError(
                f"stage {self.stage!r} needs input {name!r} but BATON_INPUTS has {have}"
            ) from None

    def input_path(self, name: str) -> Path:
        return self.input(name).path

    @property
    def output_root(self) -> Path:
        return uri_to_path(self.output_uri)

    def output_path(self, name: Optional[str] = None, *, create: bool = True) -> Path:
        """``<BATON_OUTPUT_URI>/<name>`` (or the root), created unless create=False."""
        path = self.output_root if name is None else self.output_root / name
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path


def main(argv: Optional[list[str]] = None) -> int:
    """``python baton_job.py hash PATH...`` prints each path's md5/size/nfiles (a debugging aid)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "hash":
        for item in args[1:]:
            print(json.dumps({"path": item, **path_info(item)}))
        return 0
    if args and args[0] == "contract":
        try:
            c = Contract.from_env()
        except ContractError as exc:
            print(f"baton_job: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({"run_id": c.run_id, "stage": c.stage, "attempt_id": c.attempt_id,
                          "params": c.params, "inputs": {k: vars(v) for k, v in c.inputs.items()},
                          "output_uri": c.output_uri}, indent=2, ensure_ascii=False))
        return 0
    print("usage: python baton_job.py hash PATH... | contract", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
