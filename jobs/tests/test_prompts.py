"""Prompt formatting: chat template, records -> TRL examples, answer matching, settings."""

from __future__ import annotations

import json

import pytest

from baton_jobs import prompts
from baton_jobs.profiles import base_model_path, stage_settings


def test_render_chat_is_chatml():
    messages = [
        {"role": "system", "content": "시스템"},
        {"role": "user", "content": "질문"},
        {"role": "assistant", "content": "답"},
    ]
    assert prompts.render_chat(messages) == (
        "<|im_start|>system\n시스템<|im_end|>\n<|im_start|>user\n질문<|im_end|>\n<|im_start|>assistant\n답<|im_end|>\n"
    )
    assert prompts.render_chat(messages[:2], add_generation_prompt=True).endswith("<|im_start|>assistant\n")


def test_render_chat_rejects_unknown_roles():
    with pytest.raises(ValueError):
        prompts.render_chat([{"role": "tool", "content": "x"}])


def test_jinja_template_matches_the_python_renderer(jobs_root):
    from baton_jobs.train import train_tokenizer

    tok = train_tokenizer(["한국어 문장 하나", "또 다른 문장"] * 10, vocab_size=300)
    example = prompts.instruction_example({"instruction": "다음 문장을 존댓말로 바꾸세요.", "input": "밥 먹었어?", "output": "식사하셨어요?"})
    full = example["prompt"] + example["completion"]
    assert tok.apply_chat_template(full, tokenize=False) == prompts.render_chat(full)
    assert tok.apply_chat_template(example["prompt"], tokenize=False, add_generation_prompt=True) == prompts.render_chat(
        example["prompt"], add_generation_prompt=True
    )


def test_special_tokens_are_single_tokens():
    from baton_jobs.train import train_tokenizer

    tok = train_tokenizer(["한국어 문장"] * 5, vocab_size=300)
    ids = tok("<|im_start|>user\n안녕<|im_end|>", add_special_tokens=False)["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>")
    assert ids[-1] == tok.convert_tokens_to_ids("<|im_end|>")
    # byte-level BPE: unseen text (even emoji) round-trips without unknown tokens
    assert tok.decode(tok("처음 보는 글자 😀", add_special_tokens=False)["input_ids"]) == "처음 보는 글자 😀"


def test_instruction_example_joins_instruction_and_input():
    ex = prompts.instruction_example({"instruction": "요약하세요.", "input": "긴 글", "output": "요약"})
    assert ex["prompt"][0] == {"role": "system", "content": prompts.DEFAULT_SYSTEM}
    assert ex["prompt"][1] == {"role": "user", "content": "요약하세요.\n\n긴 글"}
    assert ex["completion"] == [{"role": "assistant", "content": "요약"}]
    no_input = prompts.instruction_example({"instruction": "인사하세요.", "output": "안녕하세요."}, system=None)
    assert no_input["prompt"] == [{"role": "user", "content": "인사하세요."}]


@pytest.mark.parametrize("record", [{"instruction": "", "output": "x"}, {"instruction": "x", "output": " "}])
def test_instruction_example_rejects_incomplete_records(record):
    with pytest.raises(ValueError):
        prompts.instruction_example(record)


def test_preference_example():
    ex = prompts.preference_example({"prompt": "수도는?", "chosen": "서울입니다.", "rejected": "몰라요."})
    assert ex["prompt"][-1] == {"role": "user", "content": "수도는?"}
    assert ex["chosen"] == [{"role": "assistant", "content": "서울입니다."}]
    assert ex["rejected"] == [{"role": "assistant", "content": "몰라요."}]
    with pytest.raises(ValueError):
        prompts.preference_example({"prompt": "p", "chosen": "same", "rejected": "same"})


def test_answer_matching():
    assert prompts.normalize_answer(" 서울 입니다. ") == "서울입니다"
    assert prompts.answer_contains("한국의 수도는 서울입니다.<|im_end|>", "서울")
    assert prompts.answer_exact("서울.<|im_end|>\n다음 줄", "서울")
    assert not prompts.answer_exact("서울입니다.", "서울")
    assert not prompts.answer_contains("부산입니다.", "서울")
    assert not prompts.answer_contains("두 번째 줄에\n서울", "서울")  # only the first line counts
    assert prompts.answer_contains("ＡＢＣ", "abc")  # NFKC + case folding
    assert not prompts.answer_contains("anything", "")


def test_shipped_data_is_well_formed(jobs_root):
    data = jobs_root / "data"
    for line in (data / "instructions.jsonl").read_text(encoding="utf-8").splitlines():
        prompts.instruction_example(json.loads(line), system=None)
    for line in (data / "preferences.jsonl").read_text(encoding="utf-8").splitlines():
        prompts.preference_example(json.loads(line), system=None)
    tests = [json.loads(line) for line in (data / "testset.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(tests) >= 20 and all(t["expected"].strip() and t["split"] in ("seen", "unseen") for t in tests)
    assert (data / "LICENSE.md").exists()


def test_settings_precedence():
    tiny = stage_settings("rlhf", {"profile": "tiny", "learning_rate": 0.0002, "lora_rank": 64, "max_steps": 7})
    assert tiny["learning_rate"] == 1e-4 and tiny["lora_rank"] == 16  # 7B defaults ignored in tiny
    assert tiny["max_steps"] == 7  # generic override
    scoped = stage_settings("sft", {"profile": "tiny", "sft_learning_rate": 0.01, "cpt_learning_rate": 1.0})
    assert scoped["learning_rate"] == 0.01
    full = stage_settings("rlhf", {"profile": "full", "lora_rank": 32, "rlhf_beta": 0.2})
    assert full["lora_rank"] == 32 and full["beta"] == 0.2 and full["load_in_4bit"] is True
    with pytest.raises(ValueError):
        stage_settings("sft", {"profile": "huge"})


def test_full_profile_base_model_is_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("BATON_BASE_MODEL", raising=False)
    settings = stage_settings("cpt", {"profile": "full"})
    with pytest.raises(ValueError, match="BATON_BASE_MODEL"):
        base_model_path(settings)
    with pytest.raises(FileNotFoundError, match="not a local model folder"):
        base_model_path(stage_settings("cpt", {"profile": "full", "base_model": "Qwen/Qwen2.5-7B"}))
    (tmp_path / "config.json").write_text("{}")
    assert base_model_path(stage_settings("cpt", {"profile": "full", "base_model": str(tmp_path)})) == str(tmp_path)
    monkeypatch.setenv("BATON_BASE_MODEL", str(tmp_path))
    assert base_model_path(stage_settings("cpt", {"profile": "full", "base_model": ""})) == str(tmp_path)


def test_train_scale_multiplies_the_training_steps():
    assert stage_settings("sft", {"profile": "tiny", "train_scale": 0.1})["max_steps"] == 60
    assert stage_settings("sft", {"profile": "tiny", "train_scale": 1.5})["max_steps"] == 900
    assert stage_settings("sft", {"profile": "full", "train_scale": 2})["max_steps"] == -1  # epochs decide
    with pytest.raises(ValueError):
        stage_settings("sft", {"profile": "tiny", "train_scale": 0})
