"""The preprocess stage with Ray Data on a local Ray instance."""

from __future__ import annotations

import json

import pytest

import baton_job
from baton_jobs import preprocess
from baton_jobs import text as T

SAMPLE = [
    {"id": "d01", "text": "<p>김치찌개는 잘 익은 김치와 돼지고기를 볶은 뒤 끓이면 맛있다.</p>"},
    {"id": "d02", "text": "김치찌개는 잘 익은 김치와 돼지고기를 볶은 뒤 끓이면 맛있다."},  # exact dup after cleaning
    {"id": "d03", "text": "김치찌개는 잘 익은 김치와 돼지고기를 볶은 뒤 끓이면 맛있다. 정말 그렇다!"},  # near dup
    {"id": "d04", "text": "문의는 hong.gildong@example.co.kr 또는 010-1234-5678 로 연락 주세요 😀"},
    {"id": "d05", "text": "This line is entirely English and must be filtered out."},
    {"id": "d06", "text": "ㅋㅋ"},
    {"id": "d07", "text": "<br>&nbsp;"},
    {"id": "d08", "text": "ＦＵＬＬ　ＷＩＤＴＨ 문자도 반각으로 바뀌어야 합니다！"},
    {"id": "d09", "text": "제주도는 화산섬이라서 곳곳에 오름과 용암 동굴이 있다."},
    {"id": "d10", "text": "제주도는화산섬이라서 곳곳에 오름과 용암 동굴이 있다."},  # spacing variant
    {"id": "d11", "text": "ㅎㅏ 처럼 풀어 쓴 자모는 합쳐지지 않고 그대로 남아야 한다."},
    {"id": "d12", "text": "광고 " * 800},  # longer than max_chars
    {"id": "d13", "text": "대박 할인 " * 30},  # repetitive spam
]


@pytest.fixture(scope="module")
def sample_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "sample.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in SAMPLE), encoding="utf-8")
    return path


def read_shards(folder):
    rows = []
    for shard in sorted(folder.glob("part-*.jsonl")):
        rows += [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def test_preprocess_stage_on_a_sample(ray_local, sample_corpus, tmp_path, capsys):
    env = {
        "BATON_RUN_ID": "r1", "BATON_STAGE": "preprocess", "BATON_ATTEMPT_ID": "a1",
        "BATON_PARAMS": json.dumps({"mask_pii": True, "num_shards": 2}),
        "BATON_INPUTS": json.dumps({"corpus": {"uri": sample_corpus.as_uri(), "md5": None}}),
        "BATON_OUTPUT_URI": tmp_path.as_uri(),
    }
    stats = preprocess.run(baton_job.Contract.from_env(env))
    assert stats["docs_in"] == 13
    assert stats["dropped_not_korean"] == 1
    assert stats["dropped_short"] + stats["dropped_empty"] == 2
    assert stats["dropped_long"] == 1
    assert stats["dropped_repetitive"] == 1
    assert stats["exact_duplicates"] == 1
    assert stats["near_duplicates"] == 2
    assert stats["emails_masked"] == 1 and stats["phones_masked"] == 1

    out = tmp_path / "dataset"
    rows = read_shards(out)
    texts = [r["text"] for r in rows]
    assert stats["docs_out"] == len(rows) == 5
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # corpus order
    assert "김치찌개는 잘 익은 김치와 돼지고기를 볶은 뒤 끓이면 맛있다. 정말 그렇다!" in texts  # longest kept
    assert "문의는 [EMAIL] 또는 [PHONE] 로 연락 주세요" in texts
    assert "FULL WIDTH 문자도 반각으로 바뀌어야 합니다!" in texts
    assert "ㅎㅏ 처럼 풀어 쓴 자모는 합쳐지지 않고 그대로 남아야 한다." in texts
    assert sum("제주도는" in t for t in texts) == 1
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.jsonl", "part-00001.jsonl", "stats.json"]

    records = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::baton::")]
    metrics = {json.loads(r.split(" ", 1)[1])["key"]: json.loads(r.split(" ", 1)[1])["value"]
               for r in records if r.startswith("::baton::metric")}
    assert metrics["docs_out"] == 5 and metrics["near_duplicates"] == 2
    output = [json.loads(r.split(" ", 1)[1]) for r in records if r.startswith("::baton::output")]
    assert len(output) == 1 and output[0]["name"] == "dataset"
    assert output[0]["md5"] == baton_job.dir_md5(out) and output[0]["nfiles"] == 3


def test_preprocess_matches_the_in_memory_reference_and_is_deterministic(ray_local, jobs_root, tmp_path):
    corpus = jobs_root / "data" / "corpus.jsonl"
    first = preprocess.preprocess(corpus, tmp_path / "one", {})
    second = preprocess.preprocess(corpus, tmp_path / "two", {})
    assert baton_job.dir_md5(tmp_path / "one") == baton_job.dir_md5(tmp_path / "two")
    assert {k: v for k, v in first.items()} == {k: v for k, v in second.items()}

    # the same rules applied without Ray
    raw = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    cleaned = {}
    for r in sorted(raw, key=lambda r: r["id"]):
        t = T.clean_text(r["text"]).text
        if T.length_ok(t) and T.hangul_word_ratio(t) >= 0.5 and T.repetition_ratio(t) <= 0.5:
            cleaned.setdefault(T.text_md5(t), t)
    hasher = T.MinHasher()
    dropped = T.near_duplicates([(k, len(t), hasher.signature(t)) for k, t in cleaned.items()])
    expected = sorted(t for k, t in cleaned.items() if k not in dropped)
    assert sorted(r["text"] for r in read_shards(tmp_path / "one")) == expected
    assert first["docs_out"] == len(expected)
    assert first["exact_duplicates"] > 10 and first["near_duplicates"] > 10  # the shipped noise is found
