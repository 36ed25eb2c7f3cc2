"""Hostile records for the requests topic, and the good requests they are interleaved with.

Pure functions (no Kafka, no database), so tests/test_chaos_records.py can check them quickly.
Every record is a `Record`: key, value, headers, plus what the suite needs to find its outcome
later: the ce_id the engine will see (if any), the run id it asks for (if any), and which
endings are acceptable.

Acceptable endings (checked by chaos.py against PostgreSQL):
  rejected     the coordinator's inbox has the event with outcome 'rejected' (run.rejected sent)
  dead_letter  a row in dead_letters for this record
  run_ended    a run with the record's run id exists and is terminal (only where the request is,
               apart from its hostile part, a valid one: an unknown pool may be failed at run time)
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

REJECTED = "rejected"
DEAD_LETTER = "dead_letter"
RUN_ENDED = "run_ended"


@dataclass
class Record:
    kind: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    chaos_id: str
    ce_id: str | None  # the event id the engine sees (None: a bare body, id from topic/partition/offset)
    run_id: str | None  # run id asked for in the body, if any
    accept: tuple[str, ...]
    idempotency_key: str | None = None
    note: str = ""
    sent: dict = field(default_factory=dict)  # filled by the sender: partition, offset, t, broker_epoch

    def summary(self) -> dict:
        return {"kind": self.kind, "chaos_id": self.chaos_id, "bytes": len(self.value), "note": self.note}


def good_spec(name: str = "chaos-noop", sleep: str = "300ms") -> str:
    """A small diamond of noop stages: a -> (b, c) -> d."""
    return f"""apiVersion: baton/v1
kind: Pipeline
metadata: {{name: {name}}}
params:
  rate: {{type: number, default: 0.5}}
defaults:
  pool: default
  timeout: 2m
  retries: {{limit: 5, backoff: 1s, factor: 2, maxBackoff: 5s}}
stages:
  - {{name: a, kind: noop, noop: {{sleep: {sleep}}}}}
  - {{name: b, kind: noop, needs: [a], noop: {{sleep: {sleep}}}}}
  - {{name: c, kind: noop, needs: [a], noop: {{sleep: {sleep}}}}}
  - {{name: d, kind: noop, needs: [b, c], noop: {{sleep: {sleep}}}}}
"""


def _ce_headers(ce_id: str | bytes, *, source: bytes = b"chaos/hostile", type_: bytes = b"pipeline.requested",
                chaos_id: str) -> list[tuple[str, bytes]]:
    ce = ce_id if isinstance(ce_id, bytes) else ce_id.encode()
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce),
        ("ce_source", source),
        ("ce_type", type_),
        ("ce_time", datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z").encode()),
        ("content-type", b"application/json"),
        ("chaos_id", chaos_id.encode()),
    ]


def _body(**fields) -> bytes:
    return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()


def good_request(idempotency_key: str, spec: str) -> Record:
    """A well-formed binary-mode pipeline.requested, as an external Kafka producer would send it."""
    chaos_id = str(uuid.uuid4())
    run_id = str(uuid.uuid4())
    ce_id = f"chaos-good-{chaos_id}"
    value = _body(spec=spec, run_id=run_id, idempotency_key=idempotency_key, requested_by="chaos-raw")
    headers = _ce_headers(ce_id, source=b"chaos/raw", chaos_id=chaos_id)
    return Record("good_raw", run_id.encode(), value, headers, chaos_id, ce_id, run_id, (RUN_ENDED,),
                  idempotency_key=idempotency_key)


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A billion-laughs YAML document: `width ** levels` leaves once aliases are expanded."""
    lines = ['x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*x{i - 1}"] * width)
        lines.append(f"x{i}: &x{i} [{refs}]")
    return "\n".join(lines)


def _hostile(kind: str, *, spec_name: str) -> Record:
    chaos_id = str(uuid.uuid4())
    run_id = str(uuid.uuid4())
    ce_id = f"chaos-hostile-{kind}-{chaos_id}"
    key = run_id.encode()

    def spec_request(spec: str, **extra) -> Record:
        return Record(kind, key, _body(spec=spec, run_id=run_id, requested_by="chaos-hostile", **extra),
                      _ce_headers(ce_id, chaos_id=chaos_id), chaos_id, ce_id, run_id, (REJECTED, DEAD_LETTER))

    if kind == "not_json":
        value = b"{this is not json" + bytes(range(256))
        return Record(kind, key, value, _ce_headers(ce_id, chaos_id=chaos_id), chaos_id, ce_id, None,
                      (REJECTED, DEAD_LETTER), note="binary-mode headers, body not JSON")
    if kind == "not_json_bare":
        value = b"\xff\xfe\x00garbage\x00" * 64
        return Record(kind, None, value, [("chaos_id", chaos_id.encode())], chaos_id, None, None,
                      (REJECTED, DEAD_LETTER), note="no headers, no key, body not UTF-8")
    if kind == "big_2mb":
        filler = "x" * (2 * 1024 * 1024)
        r = spec_request(good_spec(spec_name), labels={"filler": filler})
        r.note = "a valid request padded to 2 MiB (a label)"
        return r
    if kind == "nul_header":
        bad_ce = f"chaos-hostile-{kind}-{chaos_id}\x00tail".encode()
        headers = _ce_headers(bad_ce, source=b"chaos/\x00nul", chaos_id=chaos_id)
        headers.append(("x-nul\x00name", b"a\x00b\x00c"))
        r = Record(kind, key, _body(spec=good_spec(spec_name), run_id=run_id, requested_by="chaos-hostile"),
                   headers, chaos_id, ce_id, run_id, (REJECTED, DEAD_LETTER, RUN_ENDED),
                   note="NUL bytes in ce_id, ce_source and a header's name and value; body valid")
        return r
    if kind == "nan_default":
        spec = good_spec(spec_name).replace("rate: {type: number, default: 0.5}", "rate: {type: number, default: .nan}")
        r = spec_request(spec)
        r.note = "number param with default .nan"
        return r
    if kind == "alias_bomb":
        bomb = "".join(f"      {line}\n" for line in alias_bomb().splitlines())
        spec = good_spec(spec_name).replace(
            "  - {name: a, kind: noop, noop: {sleep: 300ms}}\n",
            "  - name: a\n    kind: noop\n    params:\n" + bomb)
        r = spec_request(spec)
        r.note = "billion laughs: 9 levels of 9 aliases, referenced from a stage's params"
        return r
    if kind == "unknown_keys":
        extra = "".join(f"  unknown_key_{i:05d}: value {i}\n" for i in range(5000))
        spec = good_spec(spec_name).replace("metadata: {name: ", "x_unknown:\n" + extra + "metadata: {name: ")
        r = spec_request(spec)
        r.note = "5000 unknown keys"
        return r
    if kind == "huge_name_ref":
        r = Record(kind, key, _body(pipeline="p" * 1_000_000, run_id=run_id, requested_by="chaos-hostile"),
                   _ce_headers(ce_id, chaos_id=chaos_id), chaos_id, ce_id, run_id, (REJECTED, DEAD_LETTER),
                   note="request by name, the name 1,000,000 bytes (under the 1 MiB event limit)")
        return r
    if kind == "huge_name_inline":
        spec = good_spec("n" * 1_000_000)
        r = spec_request(spec)
        r.note = "inline spec whose metadata.name is 1,000,000 bytes"
        return r
    if kind == "unknown_pool":
        spec = good_spec(spec_name).replace("{name: d, kind: noop,", "{name: d, kind: noop, pool: nosuchpool,")
        r = spec_request(spec)
        r.accept = (REJECTED, DEAD_LETTER, RUN_ENDED)
        r.note = "stage d in pool nosuchpool, which no worker serves"
        return r
    if kind == "unknown_type":
        r = Record(kind, key, _body(spec=good_spec(spec_name), run_id=run_id),
                   _ce_headers(ce_id, type_=b"pipeline.exploded", chaos_id=chaos_id), chaos_id, ce_id, None,
                   (REJECTED, DEAD_LETTER), note="ce_type pipeline.exploded on the requests topic")
        return r
    raise ValueError(f"unknown hostile kind {kind}")


HOSTILE_KINDS = (
    "not_json", "not_json_bare", "big_2mb", "nul_header", "nan_default", "alias_bomb", "unknown_keys",
    "huge_name_ref", "huge_name_inline", "unknown_pool", "unknown_type",
)


def hostile(kind: str, spec_name: str = "chaos-hostile") -> Record:
    return _hostile(kind, spec_name=spec_name)
