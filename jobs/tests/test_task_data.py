"""The reference task: its Korean rules, and shipped data that tests learning, not memory."""

from __future__ import annotations

import json

import pytest

from baton_jobs import hangul, taskgen


@pytest.mark.parametrize(("word", "final"), [("책", True), ("사과", False), ("선생님", True), ("고양이", False), ("꽃", True)])
def test_final_consonant(word, final):
    assert hangul.has_final_consonant(word) is final


def test_particles_and_endings_follow_the_final_consonant():
    book, apple = ([hangul.attach_particle(w, p) for p in hangul.PARTICLES] for w in ("책", "사과"))
    assert book == ["책은", "책이", "책을", "책과", "책이랑", "책이나", "책이에요"]
    assert apple == ["사과는", "사과가", "사과를", "사과와", "사과랑", "사과나", "사과예요"]
    assert [hangul.conjugate("읽다", e) for e in hangul.ENDINGS] == ["읽으세요", "읽으면", "읽으니까", "읽으면서", "읽으러"]
    assert [hangul.conjugate("가다", e) for e in hangul.ENDINGS] == ["가세요", "가면", "가니까", "가면서", "가러"]


@pytest.mark.parametrize("bad", ["", "abc", "사과1"])
def test_non_hangul_words_are_refused(bad):
    with pytest.raises(ValueError):
        hangul.has_final_consonant(bad)
    with pytest.raises(ValueError):
        hangul.conjugate("읽어", "세요")


def read(jobs_root, name):
    return [json.loads(line) for line in (jobs_root / "data" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_shipped_files_are_what_taskgen_makes(jobs_root):
    for name, rows in taskgen.build().items():
        assert read(jobs_root, name) == rows, f"data/{name}.jsonl differs: run python -m baton_jobs.taskgen"


def test_unseen_prompts_are_new_combinations_of_trained_words(jobs_root):
    trained = {r["instruction"] for r in read(jobs_root, "instructions")}
    words = {r["instruction"].split(": ", 1)[1].split("(")[0] for r in read(jobs_root, "instructions")}
    tests = read(jobs_root, "testset")
    unseen = [t for t in tests if t["split"] == "unseen"]
    assert len(unseen) >= 100 and all(t["prompt"] not in trained for t in unseen)
    assert all(t["prompt"].split(": ", 1)[1].split("(")[0] in words for t in unseen)  # the word is known...
    assert all(t["prompt"] in trained for t in tests if t["split"] == "seen")           # ...the combination is not
    heldout_pairs = [p for p in read(jobs_root, "preferences") if p["split"] == "heldout"]
    assert heldout_pairs and not {p["prompt"] for p in heldout_pairs} & (trained | {t["prompt"] for t in tests})


def test_every_answer_is_right_by_the_rules(jobs_root):
    for t in read(jobs_root, "testset"):
        word, options = t["prompt"].split(": ", 1)[1].rstrip(")").split("(")
        with_final, without = options.split("/")
        stem = word[:-1] if t["task"] == "verb" else word
        assert t["expected"] == (with_final if hangul.has_final_consonant(stem) else without), t
