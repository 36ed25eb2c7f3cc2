"""The Baton job helper: the job side of the job contract (DESIGN.md, "The job contract").

Standard library only, so any Ray job can import it from its working directory.

The engine starts a stage's Ray job with these environment variables:

    BATON_RUN_ID       the run's id
    BATON_STAGE        the stage's name
    BATON_ATTEMPT_ID   the attempt's id (also the Ray submission id)
    BATON_PARAMS       JSON object: the run's params merged with the stage's params
    BATON_INPUTS       JSON object: input name -> {"uri": ..., "md5": ...}
    BATON_OUTPUT_URI   where the job writes its outputs (file:// URI, local path or s3://)

and the job reports back on stdout with one-line records that the job watcher reads
from the Ray job log:

    ::baton::output {"name":"model","uri":"file:///...","md5":"<md5>.dir","size":123,"nfiles":4}
    ::baton::metric {"key":"loss","value":1.25,"step":10}

Hashes are DVC-compatible (DVC 3, ``md5``): a file's hash is the md5 of its bytes; a
folder's hash is the md5 of ``json.dumps(entries, sort_keys=True)`` where ``entries``
is the list of ``{"md5": <file md5>, "relpath": <posix path>}`` of every file under it,
sorted by relpath, with ``.dir`` appended (dvc_data.hashfile.tree.Tree.digest).

With ``s3://`` URIs (``BATON_ARTIFACT_ROOT=s3://bucket/prefix``) the job still reads and
writes local files: an input is downloaded once into a local cache (and checked against its
md5), outputs are written under a local staging folder, and ``emit_output`` uploads them,
computing the DVC hash from the bytes as they are sent. S3 is reached with boto3 and the
standard AWS variables (``AWS_ENDPOINT_URL_S3`` for an S3-compatible store, ``AWS_REGION``,
an access key or a web identity); boto3 is imported only when an ``s3://`` URI is used.

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
import io
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
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
    "is_s3",
    "local_path",
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

    Other schemes are refused with a readable error; ``local_path`` also takes s3:// URIs.
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


def is_s3(uri: Any) -> bool:
    """Whether ``uri`` is an ``s3://`` URI."""
    return isinstance(uri, str) and uri[:5].lower() == "s3://"


def local_path(uri: str, md5: Optional[str] = None) -> Path:
    """A local path for ``uri``: a ``file://`` URI or path as it is, an ``s3://`` object or
    folder downloaded into the input cache (checked against ``md5`` when given)."""
    return _s3_download(uri, md5) if is_s3(uri) else uri_to_path(uri)


# --------------------------------------------------------------------------- S3

# Files up to this size go up in one PUT, whose ETag S3 sets to the md5 of the bytes (checked
# here, and by Baton's stage cache); larger ones in parts.
_SINGLE_PUT_BYTES = 512 * 1024 * 1024
_UPLOAD_THREADS = 8
_s3_lock = threading.Lock()
_s3_clients: dict[str, Any] = {}
# Local staging folder -> the s3:// URI its content goes to (Contract.output_root).
_staged: dict[Path, str] = {}


def _s3_client() -> Any:
    """A boto3 S3 client from the standard AWS variables. A non-AWS endpoint
    (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) is addressed path-style, and checksums are sent
    only where S3 requires them (S3-compatible stores differ in what else they accept)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    with _s3_lock:
        client = _s3_clients.get(endpoint or "")
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ContractError("s3:// artifacts need boto3 in the job's Python (pip install boto3)") from None
            settings: dict[str, Any] = {"retries": {"max_attempts": 5, "mode": "standard"},
                                        "connect_timeout": 10, "read_timeout": 120}
            if endpoint:
                settings.update(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                response_checksum_validation="when_required")
            client = boto3.client("s3", endpoint_url=endpoint, config=Config(**settings))
            _s3_clients[endpoint or ""] = client
        return client


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket:
        raise ContractError(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key


class _HashingReader(io.RawIOBase):
    """A file read for upload that feeds each byte to an md5 once, in order, even when the
    uploader reads parts of it again (to compute its own checksums)."""

    def __init__(self, handle: IO[bytes]):
        self._handle = handle
        self._md5 = hashlib.md5()
        self.hashed = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def read(self, size: int = -1) -> bytes:
        start = self._handle.tell()
        data = self._handle.read(size)
        end = start + len(data)
        if start <= self.hashed < end:
            self._md5.update(data[self.hashed - start:])
            self.hashed = end
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def _upload_file(path: Path, bucket: str, key: str) -> str:
    """Uploads one file and returns its md5, computed from the bytes as they were sent."""
    client = _s3_client()
    size = path.stat().st_size
    with open(path, "rb") as handle:
        reader = _HashingReader(handle)
        if size <= _SINGLE_PUT_BYTES:
            etag = client.put_object(Bucket=bucket, Key=key, Body=reader, ContentLength=size)["ETag"].strip('"')
        else:
            from boto3.s3.transfer import TransferConfig

            client.upload_fileobj(reader, bucket, key, Config=TransferConfig(use_threads=False))
            etag = None
    md5 = reader.hexdigest() if reader.hashed == size else file_md5(path)
    if etag and len(etag) == 32 and etag != md5 and not os.environ.get("BATON_S3_ETAG_NOT_MD5"):
        raise RuntimeError(f"s3://{bucket}/{key}: the store got other bytes (ETag {etag}, sent md5 {md5}); "
                           "set BATON_S3_ETAG_NOT_MD5=1 for a bucket whose ETags are not md5s (SSE-KMS)")
    return md5


def _s3_upload(path: Path, uri: str) -> dict[str, Any]:
    """Uploads a file to ``uri`` or a folder under ``uri/``; returns md5 (DVC), size, nfiles."""
    bucket, key = _split_s3(uri)
    if path.is_file():
        return {"md5": _upload_file(path, bucket, key), "size": path.stat().st_size, "nfiles": 1}
    if not path.is_dir():
        raise FileNotFoundError(f"output does not exist: {path}")
    files = _walk_files(path)
    with ThreadPoolExecutor(max_workers=_UPLOAD_THREADS) as pool:
        md5s = list(pool.map(lambda item: _upload_file(item[1], bucket, f"{key.rstrip('/')}/{item[0]}"), files))
    entries = [{"md5": md5, "relpath": rel} for (rel, _), md5 in zip(files, md5s)]
    payload = json.dumps(entries, sort_keys=True).encode("utf-8")
    return {"md5": hashlib.md5(payload).hexdigest() + ".dir",
            "size": sum(full.stat().st_size for _, full in files), "nfiles": len(files)}


def _input_cache() -> Path:
    return Path(os.environ.get("BATON_INPUT_CACHE") or Path(tempfile.gettempdir()) / "baton-inputs")


def _s3_download(uri: str, md5: Optional[str]) -> Path:
    """Downloads the object at ``uri``, or the folder of objects under ``uri/``, into the input
    cache: once per md5 on this machine (written aside, then renamed into place), and checked
    against ``md5`` when given."""
    bucket, key = _split_s3(uri)
    name = Path(key.rstrip("/")).name or bucket
    # Without an md5 nothing says a cached copy is current: it is downloaded again.
    slot = md5 or "uri-" + hashlib.sha256(uri.encode()).hexdigest()[:32]
    target = _input_cache() / slot / name
    if md5 and target.exists():
        return target
    client = _s3_client()
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=_ensure(_input_cache())))
    try:
        local = staging / name
        got = _s3_fetch(client, bucket, key, local, uri)
        if md5 and got != md5:
            raise ContractError(f"input {uri} changed in the store: its md5 is {got}, the run expects {md5}")
        _ensure(target.parent)
        if not md5 and target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        try:
            os.rename(local, target)
        except OSError:
            if not target.exists():  # not a concurrent download of the same md5
                raise
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _s3_fetch(client: Any, bucket: str, key: str, local: Path, uri: str) -> str:
    """Downloads the folder under ``key/``, else the object ``key``, to ``local``; returns its md5."""
    prefix = key.rstrip("/") + "/"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    objects = [item["Key"] for page in pages for item in page.get("Contents", []) if not item["Key"].endswith("/")]
    if not objects:
        try:
            client.download_file(bucket, key, str(local))
        except Exception as exc:  # botocore raises ClientError(404) for a missing key
            raise ContractError(f"input {uri} cannot be read from S3: {exc}") from None
        return file_md5(local)
    for object_key in objects:
        destination = (local / object_key[len(prefix):]).resolve()
        if not destination.is_relative_to(local.resolve()):
            raise ContractError(f"{uri}: object key {object_key!r} leaves the folder")
        destination.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, object_key, str(destination))
    return dir_md5(local)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
    """Report an output. A local file or folder is hashed (md5/size/nfiles) unless given; one
    under the staging folder of an s3:// output root is uploaded, and its s3:// URI reported.

    Returns the record's fields.
    """
    text = os.fspath(path_or_uri)
    parsed = urllib.parse.urlparse(text)
    local: Optional[Path] = None
    if parsed.scheme in ("", "file"):
        local = uri_to_path(text)
        uri = path_to_uri(local)
        remote = _staged_uri(local)
        if remote is not None:
            info = _s3_upload(local, remote)
            _write(output_record(name, remote, **info), stream)
            return {"name": name, "uri": remote, **info}
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


def _staged_uri(path: Path) -> Optional[str]:
    """The s3:// URI of a path under a staging folder of an s3:// output root; else None."""
    resolved = path.resolve()
    for root, remote in _staged.items():
        if resolved == root or resolved.is_relative_to(root):
            relative = resolved.relative_to(root).as_posix()
            return remote.rstrip("/") + ("" if relative == "." else "/" + relative)
    return None


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
        """A local path: s3:// inputs are downloaded (once) and checked against their md5."""
        return local_path(self.uri, self.md5)


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
        # Validate early: an unusable output is a contract error.
        _split_s3(output_uri) if is_s3(output_uri) else uri_to_path(output_uri)
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
        """Where outputs are written: the output URI's folder, or for an s3:// output URI a
        local staging folder (BATON_STAGING_DIR, default the temp dir) whose content
        ``emit_output`` uploads."""
        if not is_s3(self.output_uri):
            return uri_to_path(self.output_uri)
        base = Path(os.environ.get("BATON_STAGING_DIR") or Path(tempfile.gettempdir()) / "baton-staging")
        root = (base / self.attempt_id).resolve()
        _staged[root] = self.output_uri
        return root

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
