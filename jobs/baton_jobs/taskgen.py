"""The reference task's data: a closed-domain Korean task a tiny model can learn and be measured on.

    cd jobs && python -m baton_jobs.taskgen        (rewrites data/instructions.jsonl,
                                                   data/preferences.jsonl, data/testset.jsonl)

Choosing the form that the last syllable's final consonant (받침) calls for
(``baton_jobs.hangul``), in two families of short prompts:

- ``particle``: ``조사: 사과(은/는)`` -> ``는``, ``조사: 책(은/는)`` -> ``은``
  (은/는, 이/가, 을/를, 과/와, 이랑/랑, 이나/나, 이에요/예요);
- ``verb``: ``어미: 읽다(으세요/세요)`` -> ``으세요``, ``어미: 가다(으세요/세요)`` -> ``세요``
  (the honorific -(으)세요, and -(으)면, -(으)니까, -(으)면서, -(으)러).

The split is by *combination*, so held-out prompts are new, not memorised lines: each noun
is trained with six of its seven particles and held out with the seventh, each verb with four
of its five endings and held out with the fifth. A model passes the held-out prompts only
if it has learnt which syllables end in a consonant and what that asks for (several forms
per word give it several examples of each word's final consonant: with two endings per verb
the tiny model often guessed the verbs' held-out forms). The test set's
``unseen`` items come only from those held-out combinations; its ``seen`` items are
training prompts. The preference pairs (chosen: the right form; rejected: the other one)
are ``train`` pairs on training prompts and ``heldout`` pairs on held-out combinations
that the test set does not use. Deterministic: the same files every time.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from .hangul import ENDINGS, PARTICLES, attach_particle, conjugate

SEED = 15
TEST_SEEN_PER_TASK = 20
TEST_UNSEEN = {"particle": 80, "verb": 50}
TRAIN_PAIRS_PER_TASK = 80

NOUNS = (
    "사과 바다 나무 학교 의자 고양이 우유 커피 기차 버스 시계 가방 책 물 꽃 집 산 강 눈 비 바람 하늘 구름 별 달 "
    "해 친구 어머니 아버지 누나 동생 선생님 학생 의사 가수 배우 요리사 회사 병원 시장 공원 도서관 식당 은행 "
    "우체국 전화 편지 사진 그림 노래 영화 음악 신문 잡지 연필 공책 지우개 컴퓨터 모자 신발 옷 바지 치마 안경 "
    "우산 열쇠 문 창문 침대 책상 냉장고 라면 김치 밥 빵 떡 국 고기 생선 과일 포도 딸기 수박 참외 감자 고구마 "
    "당근 양파 마늘 토마토 오이 호박 배추 사탕 과자 케이크 주스 소금 설탕 간장 계란 두부"
).split()
# Regular verbs only (no ㄹ-final stem, no ㅂ/ㄷ/ㅅ irregular, no lexical honorific such as 먹다 -> 드시다).
VERBS = (
    "가다 오다 보다 사다 타다 서다 주다 배우다 마시다 기다리다 만나다 가르치다 보내다 쓰다 켜다 끄다 바꾸다 "
    "고치다 다니다 그리다 내리다 세우다 모으다 치다 지나다 던지다 버리다 고르다 부르다 자라다 지키다 느끼다 "
    "나누다 달리다 읽다 앉다 찾다 닦다 씻다 받다 닫다 믿다 잡다 입다 접다 웃다 벗다 감다 신다 안다 참다 심다 "
    "찍다 묶다 볶다 깎다 섞다 막다 갚다 덮다 숨다 뽑다 씹다 쫓다 넣다 놓다 남다"
).split()


def item(task: str, prompt: str, answer: str, wrong: str) -> dict[str, str]:
    return {"task": task, "prompt": prompt, "answer": answer, "wrong": wrong}


def particle_item(noun: str, pair: str) -> dict[str, str]:
    right = attach_particle(noun, pair)[len(noun):]
    wrong = next(p for p in PARTICLES[pair] if p != right)
    return item("particle", f"조사: {noun}({pair})", right, wrong)


def verb_item(verb: str, ending: str) -> dict[str, str]:
    stem = verb[:-1]
    right = conjugate(verb, ending)[len(stem):]
    wrong = next(e for e in ENDINGS[ending] if e != right)
    return item("verb", f"어미: {verb}({'/'.join(ENDINGS[ending])})", right, wrong)


def hold_out_one_form(words, forms, make, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Every word with every form: per word one form (rotating over the shuffled words) is held
    out, the others are for training, so every form is trained and tested on other words."""
    words = list(words)
    rng.shuffle(words)
    train, heldout = [], []
    for i, word in enumerate(words):
        for j, form in enumerate(forms):
            (heldout if j == i % len(forms) else train).append(make(word, form))
    return train, heldout


def split_items(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """(train items, held-out items): held-out ones are combinations never trained on."""
    particle_train, particle_heldout = hold_out_one_form(NOUNS, list(PARTICLES), particle_item, rng)
    verb_train, verb_heldout = hold_out_one_form(VERBS, list(ENDINGS), verb_item, rng)
    return particle_train + verb_train, particle_heldout + verb_heldout


def by_task(items: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for it in items:
        groups.setdefault(it["task"], []).append(it)
    return groups


def build(seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """The three files' records: instructions, testset, preferences."""
    rng = random.Random(seed)
    train, heldout = split_items(rng)
    instructions = [{"id": f"task-{i:04d}", "task": it["task"], "instruction": it["prompt"], "input": "",
                     "output": it["answer"]} for i, it in enumerate(train)]
    tests: list[dict[str, Any]] = []
    pair_items: list[tuple[str, dict]] = []
    for task, items in sorted(by_task(train).items()):
        picked = rng.sample(items, min(len(items), TEST_SEEN_PER_TASK + TRAIN_PAIRS_PER_TASK))
        tests += [dict(it, split="seen") for it in picked[:TEST_SEEN_PER_TASK]]
        pair_items += [("train", it) for it in picked[TEST_SEEN_PER_TASK:]]
    for task, items in sorted(by_task(heldout).items()):
        rng.shuffle(items)
        tests += [dict(it, split="unseen") for it in items[:TEST_UNSEEN[task]]]
        pair_items += [("heldout", it) for it in items[TEST_UNSEEN[task]:]]
    testset = [{"id": f"test-{i:03d}", "task": t["task"], "prompt": t["prompt"], "expected": t["answer"],
                "split": t["split"]} for i, t in enumerate(tests)]
    preferences = [{"id": f"pref-{i:03d}", "task": it["task"], "prompt": it["prompt"], "chosen": it["answer"],
                    "rejected": it["wrong"], "split": split} for i, (split, it) in enumerate(pair_items)]
    return {"instructions": instructions, "testset": testset, "preferences": preferences}


def write(out_dir: Path, records: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in records.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (out_dir / f"{name}.jsonl").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "data"))
    args = parser.parse_args(argv)
    records = build()
    write(Path(args.out), records)
    for name, rows in records.items():
        print(f"{name}: {len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
