"""The Korean rules behind the reference task: final consonants, particles, verb endings.

Pure Python. These functions *define* the right answers of the shipped task data
(``baton_jobs.taskgen``); the model never sees them, it has to learn them from examples.

- a syllable's final consonant (받침): Hangul syllables U+AC00..U+D7A3 are
  ``0xAC00 + (initial * 21 + medial) * 28 + final``, ``final == 0`` meaning none;
- particle choice by the final consonant of the last syllable: 은/는, 이/가, 을/를, 과/와, 이랑/랑,
  (이)나, 이에요/예요;
- the endings ``-(으)세요``, ``-(으)면``, ``-(으)니까``, ``-(으)면서``, ``-(으)러`` of a regular verb
  stem (으 after a final consonant).
"""

from __future__ import annotations

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3

# (after a final consonant, after a vowel)
PARTICLES = {"은/는": ("은", "는"), "이/가": ("이", "가"), "을/를": ("을", "를"), "과/와": ("과", "와"),
             "이랑/랑": ("이랑", "랑"), "이나/나": ("이나", "나"), "이에요/예요": ("이에요", "예요")}
# The ending with and without the linking vowel 으.
ENDINGS = {"세요": ("으세요", "세요"), "면": ("으면", "면"), "니까": ("으니까", "니까"), "면서": ("으면서", "면서"),
           "러": ("으러", "러")}



def has_final_consonant(word: str) -> bool:
    """Whether the word's last character is a Hangul syllable with a final consonant."""
    if not word:
        raise ValueError("empty word")
    code = ord(word[-1])
    if not HANGUL_FIRST <= code <= HANGUL_LAST:
        raise ValueError(f"{word!r} does not end with a Hangul syllable")
    return (code - HANGUL_FIRST) % 28 != 0


def attach_particle(noun: str, pair: str) -> str:
    """``사과`` + ``은/는`` -> ``사과는``; ``책`` + ``은/는`` -> ``책은``."""
    with_final, without = PARTICLES[pair]
    return noun + (with_final if has_final_consonant(noun) else without)


def conjugate(verb: str, ending: str) -> str:
    """A regular verb's dictionary form + ending: ``읽다`` + ``세요`` -> ``읽으세요``, ``가다`` -> ``가세요``.

    Only for regular stems: stems ending in ㄹ, and the ㅂ/ㄷ/ㅅ/르 irregular verbs, follow other
    rules and are not in the task's verb list.
    """
    if not verb.endswith("다") or len(verb) < 2:
        raise ValueError(f"{verb!r} is not a verb's dictionary form (…다)")
    stem = verb[:-1]
    with_final, without = ENDINGS[ending]
    return stem + (with_final if has_final_consonant(stem) else without)

