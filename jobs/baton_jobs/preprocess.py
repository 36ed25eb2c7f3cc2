"""preprocess: clean, normalise, filter and deduplicate a Korean corpus with Ray Data.

    python -m baton_jobs.preprocess        (inputs: corpus; outputs: dataset)

Input ``corpus``: a JSONL file or a folder of JSONL files with a ``text`` field (other
fields such as ``id``/``source`` are kept), or text files with one document per line.

Output ``dataset``: ``part-00000.jsonl`` ... (``{"id", "source", "text"}``, UTF-8) plus
``stats.json``; reported with its DVC ``.dir`` md5.

Params (all optional): ``mask_pii`` (true), ``keep_hanja`` (false), ``drop_urls`` (true),
``min_chars`` (10), ``max_chars`` (2000), ``min_hangul_ratio`` (0.5: share of words with
Hangul), ``max_repetition`` (0.5: share of repeated words), ``dedup_near`` (true), ``near_threshold`` (0.7), ``minhash_perm`` (64),
``minhash_bands`` (16), ``shingle`` (5), ``num_shards`` (2), ``preprocess_num_cpus``.

The cleaning rules are the pure functions of ``baton_jobs.text``; this module maps them
over Ray Data blocks, so the same code runs on a laptop and on a cluster.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import baton_job

from . import text as T
from .data import data_path, data_files, write_json
from .runtime import ensure_ray, log, stage_main, warn_if_no_free_cpu

STAGE = "preprocess"
DROP_REASONS = ("empty", "short", "long", "not_korean", "repetitive")


@dataclass(frozen=True)
class PreprocessConfig:
    clean: T.CleanConfig = T.CleanConfig()
    min_chars: int = 10
    max_chars: int = 2000
    min_hangul_ratio: float = 0.5
    max_repetition: float = 0.5
    dedup_near: bool = True
    near_threshold: float = 0.7
    minhash_perm: int = 64
    minhash_bands: int = 16
    shingle: int = 5
    num_shards: int = 2

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "PreprocessConfig":
        return cls(
            clean=T.CleanConfig.from_params(params),
            min_chars=int(params.get("min_chars", 10)),
            max_chars=int(params.get("max_chars", 2000)),
            min_hangul_ratio=float(params.get("min_hangul_ratio", 0.5)),
            max_repetition=float(params.get("max_repetition", 0.5)),
            dedup_near=bool(params.get("dedup_near", True)),
            near_threshold=float(params.get("near_threshold", 0.7)),
            minhash_perm=int(params.get("minhash_perm", 64)),
            minhash_bands=int(params.get("minhash_bands", 16)),
            shingle=int(params.get("shingle", 5)),
            num_shards=max(1, int(params.get("num_shards", 2))),
        )


# --------------------------------------------------------------------------- Ray Data UDFs


def clean_batch(batch, *, config: PreprocessConfig):
    """pandas batch {id?, source?, text} -> cleaned text, drop reason, md5, MinHash signature."""
    import pandas as pd

    hasher = T.MinHasher(num_perm=config.minhash_perm, k=config.shingle)
    n = len(batch)
    raw = batch["text"] if "text" in batch else pd.Series([""] * n)
    ids = batch["id"].astype(str) if "id" in batch else pd.Series([""] * n)
    sources = batch["source"].astype(str) if "source" in batch else pd.Series([""] * n)
    columns = ["id", "source", "text", "reason", "md5", "length", "raw_chars", "emails", "phones", "sig"]
    out: dict[str, list] = {k: [] for k in columns + [f"is_{r}" for r in DROP_REASONS]}
    for doc_id, source, value in zip(ids, sources, raw):
        value = value if isinstance(value, str) else ("" if value is None else str(value))
        result = T.clean_text(value, config.clean)
        cleaned = result.text
        if not cleaned:
            reason = "empty"
        elif len(cleaned) < config.min_chars:
            reason = "short"
        elif len(cleaned) > config.max_chars:
            reason = "long"
        elif T.hangul_word_ratio(cleaned) < config.min_hangul_ratio:
            reason = "not_korean"
        elif T.repetition_ratio(cleaned) > config.max_repetition:
            reason = "repetitive"
        else:
            reason = ""
        out["id"].append(doc_id)
        out["source"].append(source)
        out["text"].append(cleaned)
        out["reason"].append(reason)
        out["md5"].append(T.text_md5(cleaned))
        out["length"].append(len(cleaned))
        out["raw_chars"].append(len(value))
        out["emails"].append(result.emails)
        out["phones"].append(result.phones)
        for r in DROP_REASONS:
            out[f"is_{r}"].append(int(reason == r))
        sig = hasher.signature(cleaned) if (reason == "" and config.dedup_near) else None
        out["sig"].append(sig.tolist() if sig is not None else [])
    return pd.DataFrame(out)


def first_of_group(group):
    """Exact dedup: keep one row per md5 (the smallest id, so the result is deterministic)."""
    return group.sort_values("id", kind="stable").head(1)


def band_rows(batch, *, bands: int):
    """One row per (document, LSH band) for the near-duplicate buckets."""
    import pandas as pd

    rows: dict[str, list] = {"band": [], "md5": [], "length": [], "sig": []}
    for md5, length, sig in zip(batch["md5"], batch["length"], batch["sig"]):
        sig_list = [int(x) for x in sig]
        for key in T.band_keys(sig_list, bands):
            rows["band"].append(key)
            rows["md5"].append(md5)
            rows["length"].append(int(length))
            rows["sig"].append(sig_list)
    return pd.DataFrame(rows)


EDGE_COLUMNS = ("a", "b", "len_a", "len_b", "sim")


def bucket_edges(group, *, threshold: float):
    """numpy batch of one LSH bucket -> its verified similar pairs (most buckets have one
    member and return nothing, cheaply)."""
    import numpy as np

    md5s = group["md5"]
    if len(md5s) < 2:
        return {"a": np.array([], dtype=object), "b": np.array([], dtype=object),
                "len_a": np.array([], dtype=np.int64), "len_b": np.array([], dtype=np.int64),
                "sim": np.array([], dtype=np.float64)}
    members = [(str(m), list(sig)) for m, sig in zip(md5s, group["sig"])]
    lengths = {str(m): int(n) for m, n in zip(md5s, group["length"])}
    pairs = T.bucket_pairs(members, threshold)
    return {
        "a": np.array([p[0] for p in pairs], dtype=object),
        "b": np.array([p[1] for p in pairs], dtype=object),
        "len_a": np.array([lengths[p[0]] for p in pairs], dtype=np.int64),
        "len_b": np.array([lengths[p[1]] for p in pairs], dtype=np.int64),
        "sim": np.array([p[2] for p in pairs], dtype=np.float64),
    }


def shard_names():
    """Deterministic shard names (part-00000.jsonl, ...) instead of Ray's uuid-based ones,
    so the same data hashes to the same .dir md5."""
    from ray.data.datasource import FilenameProvider

    class ShardNames(FilenameProvider):
        def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:  # noqa: ARG002
            return f"part-{task_index:05d}.jsonl"

    return ShardNames()


# --------------------------------------------------------------------------- the stage


def column_sums(ds, columns: list[str]) -> dict[str, int]:
    totals = {c: 0 for c in columns}
    totals["rows"] = 0
    for batch in ds.select_columns(columns).iter_batches(batch_format="numpy", batch_size=65536):
        totals["rows"] += len(batch[columns[0]])
        for c in columns:
            totals[c] += int(batch[c].sum())
    return totals


def read_corpus(path: Path):
    import ray

    files = [str(f) for f in data_files(path)]
    if all(f.endswith(".txt") for f in files):
        return ray.data.read_text(files)
    jsonl = [f for f in files if not f.endswith(".txt")]
    return ray.data.read_json(jsonl, lines=True) if jsonl else ray.data.read_text(files)


def preprocess(corpus: Path, out_dir: Path, params: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Run the preprocessing with Ray Data; write shards and stats.json into out_dir."""
    params = params or {}
    config = PreprocessConfig.from_params(params)
    ray = ensure_ray(params.get("preprocess_num_cpus"))
    warn_if_no_free_cpu(STAGE)
    from ray.data.expressions import col

    cpus = int(ray.cluster_resources().get("CPU", 1))
    partitions = int(params.get("shuffle_partitions", max(2, min(cpus, 64))))
    ctx = ray.data.DataContext.get_current()
    ctx.default_hash_shuffle_parallelism = partitions
    ctx.max_hash_shuffle_aggregators = partitions
    # Task-based sort shuffle: no aggregator actors to start, which dominates on small
    # clusters; "hash_shuffle" is the better choice for very large corpora.
    ctx.shuffle_strategy = params.get("shuffle_strategy") or "sort_shuffle_pull_based"

    # 1. clean every document (parallel over blocks), keep the result in the object store
    cleaned = (
        read_corpus(corpus)
        .map_batches(clean_batch, fn_kwargs={"config": config}, batch_format="pandas", batch_size=256)
        .materialize()
    )
    # 2. counts: a few integer columns streamed from the object store (no shuffle)
    sums = ["raw_chars", "emails", "phones"] + [f"is_{r}" for r in DROP_REASONS]
    totals = column_sums(cleaned, sums)
    stats: dict[str, Any] = {"docs_in": int(totals["rows"])}
    for reason in DROP_REASONS:
        stats[f"dropped_{reason}"] = totals[f"is_{reason}"]
    stats["chars_in"] = totals["raw_chars"]
    stats["emails_masked"] = totals["emails"]
    stats["phones_masked"] = totals["phones"]
    n_kept = stats["docs_in"] - sum(stats[f"dropped_{r}"] for r in DROP_REASONS)

    # 3. exact duplicates: one document per md5 of the cleaned text
    kept = cleaned.filter(expr=col("reason") == "")
    unique = (
        kept.groupby("md5", num_partitions=partitions).map_groups(first_of_group, batch_format="pandas").materialize()
        if n_kept
        else kept.materialize()
    )
    n_unique = unique.count()
    stats["exact_duplicates"] = int(n_kept - n_unique)

    # 4. near duplicates: MinHash LSH buckets (one row per document and band), verified
    #    pairs per bucket, connected components on the driver (edges only)
    dropped: dict[str, str] = {}
    if config.dedup_near and n_unique > 1:
        edges = (
            unique.select_columns(["md5", "length", "sig"])
            .map_batches(band_rows, fn_kwargs={"bands": config.minhash_bands}, batch_format="pandas")
            .groupby("band", num_partitions=partitions)
            .map_groups(bucket_edges, fn_kwargs={"threshold": config.near_threshold}, batch_format="numpy")
            .take_all()
        )
        lengths: dict[str, int] = {}
        for row in edges:
            lengths[row["a"]], lengths[row["b"]] = int(row["len_a"]), int(row["len_b"])
        dropped = T.clusters_from_pairs(((row["a"], row["b"]) for row in edges), lengths)
    stats["near_duplicates"] = len(dropped)

    # 5. the survivors, in corpus order (sorted by id, then md5) so equal data gives equal shards
    dropped_keys = set(dropped)
    final = (
        (unique.filter(expr=col("md5").not_in(sorted(dropped_keys))) if dropped_keys else unique)
        .select_columns(["id", "source", "text", "length", "md5"])
        .sort(["id", "md5"])  # md5 breaks ties when the corpus has no ids
        .materialize()
    )
    totals = column_sums(final, ["length"])
    stats["docs_out"] = totals["rows"]
    stats["chars_out"] = totals["length"]

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("part-*.jsonl"):
        old.unlink()
    shards = min(config.num_shards, max(1, stats["docs_out"]))
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        final.drop_columns(["length", "md5"]).repartition(shards).write_json(
            str(staging), filename_provider=shard_names(), force_ascii=False
        )
        for f in sorted(staging.glob("*.jsonl")):
            shutil.move(str(f), out_dir / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    stats["shards"] = len(list(out_dir.glob("part-*.jsonl")))
    stats["near_duplicate_pairs"] = {k: v for k, v in sorted(dropped.items())[:50]}
    write_json(out_dir / "stats.json", {"config": _config_dict(config), "stats": stats})
    return stats


def _config_dict(config: PreprocessConfig) -> dict[str, Any]:
    d = asdict(config)
    return json.loads(json.dumps(d))


METRIC_KEYS = (
    "docs_in", "dropped_empty", "dropped_short", "dropped_long", "dropped_not_korean", "dropped_repetitive",
    "exact_duplicates", "near_duplicates", "docs_out", "emails_masked", "phones_masked",
    "chars_in", "chars_out", "shards",
)


def run(contract: baton_job.Contract) -> dict[str, Any]:
    corpus = data_path(contract, "corpus")
    out_dir = contract.output_path("dataset")
    log(STAGE, f"corpus {corpus}")
    stats = preprocess(corpus, out_dir, contract.params)
    for key in METRIC_KEYS:
        baton_job.emit_metric(key, stats[key])
    baton_job.emit_output("dataset", out_dir)
    log(STAGE, "kept {docs_out} of {docs_in} documents ({exact_duplicates} exact and {near_duplicates} near duplicates)".format(**stats))
    return stats


def main() -> int:
    return stage_main(STAGE, run)


if __name__ == "__main__":
    raise SystemExit(main())
