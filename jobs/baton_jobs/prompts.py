"""Prompt formatting: the chat template, records -> chat messages, answer matching.

Pure Python (no torch, no transformers) so it is cheap to test.

The chat format is ChatML, the format of Qwen2.5's own template, so the tiny profile's
trained tokenizer and the full profile's Qwen2.5 tokenizer format conversations the same
way::

    <|im_start|>system
    {system}<|im_end|>
    <|im_start|>user
    {instruction}

    {input}<|im_end|>
    <|im_start|>assistant
    {output}<|im_end|>
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Mapping, Optional

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
END_OF_TEXT = "<|endoftext|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [END_OF_TEXT, IM_START, IM_END, PAD]

DEFAULT_SYSTEM = "당신은 친절하고 정확한 한국어 도우미입니다."

# Jinja template given to tokenizers that have none (the tiny profile's). `generation`
# markers let TRL compute assistant-only masks when asked to.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{%- generation -%}{{ message['content'] + '<|im_end|>' }}{%- endgeneration -%}"
    "{{ '\\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def render_chat(messages: Iterable[Mapping[str, str]], add_generation_prompt: bool = False) -> str:
    """What CHAT_TEMPLATE renders, in Python (tests check the two agree)."""
    parts = []
    for message in messages:
        role, content = message["role"], message["content"]
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"unknown chat role {role!r}")
        parts.append(f"{IM_START}{role}\n{content}{IM_END}\n")
    if add_generation_prompt:
        parts.append(f"{IM_START}assistant\n")
    return "".join(parts)


def user_content(instruction: str, input_text: Optional[str] = None) -> str:
    """An instruction and its optional input, as the user turn."""
    instruction = (instruction or "").strip()
    if not instruction:
        raise ValueError("an instruction record needs a non-empty 'instruction'")
    input_text = (input_text or "").strip()
    return f"{instruction}\n\n{input_text}" if input_text else instruction


def prompt_messages(user: str, system: Optional[str] = DEFAULT_SYSTEM) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    return messages


def instruction_example(record: Mapping[str, Any], system: Optional[str] = DEFAULT_SYSTEM) -> dict[str, Any]:
    """{instruction, input, output} -> TRL's conversational prompt-completion format.

    TRL computes the loss on the completion only (completion_only_loss), so the model
    learns to answer, not to repeat the question.
    """
    output = (record.get("output") or "").strip()
    if not output:
        raise ValueError(f"instruction record {record.get('id', '?')!r} has no 'output'")
    return {
        "prompt": prompt_messages(user_content(record.get("instruction", ""), record.get("input")), system),
        "completion": [{"role": "assistant", "content": output}],
    }


def preference_example(record: Mapping[str, Any], system: Optional[str] = DEFAULT_SYSTEM) -> dict[str, Any]:
    """{prompt, chosen, rejected} -> TRL's conversational preference format."""
    chosen, rejected = (record.get("chosen") or "").strip(), (record.get("rejected") or "").strip()
    if not chosen or not rejected:
        raise ValueError(f"preference record {record.get('id', '?')!r} needs 'chosen' and 'rejected'")
    if chosen == rejected:
        raise ValueError(f"preference record {record.get('id', '?')!r} has chosen == rejected")
    return {
        "prompt": prompt_messages(user_content(record.get("prompt", "")), system),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


def eval_prompt(record: Mapping[str, Any], system: Optional[str] = DEFAULT_SYSTEM) -> list[dict[str, str]]:
    """A test-set record {prompt, expected} -> the messages sent to the model."""
    return prompt_messages(user_content(record.get("prompt", "")), system)


# --------------------------------------------------------------------------- answers

_PUNCT_OR_SPACE = re.compile(r"[\s\.,!?'\"()\[\]:;~·\-]+")


def normalize_answer(text: str) -> str:
    """NFKC, lower case, no whitespace or sentence punctuation: "서울입니다." -> "서울입니다"."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _PUNCT_OR_SPACE.sub("", text)


def first_line(text: str) -> str:
    """The answer part of a generation: up to the end-of-turn marker or the first line."""
    text = (text or "").split(IM_END, 1)[0].split(END_OF_TEXT, 1)[0]
    return text.strip().split("\n", 1)[0].strip()


def answer_contains(generation: str, expected: str) -> bool:
    """The original design's accuracy: the expected answer appears in the generation."""
    exp = normalize_answer(expected)
    return bool(exp) and exp in normalize_answer(first_line(generation))


def answer_exact(generation: str, expected: str) -> bool:
    """Exact match after normalisation (a stricter accuracy)."""
    exp = normalize_answer(expected)
    return bool(exp) and normalize_answer(first_line(generation)) == exp
