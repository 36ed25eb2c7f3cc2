"""Korean text cleaning, filtering and deduplication: pure functions, no Ray.

The preprocess stage maps these over Ray Data blocks; the tests call them directly.

Cleaning order (``clean_text``), each step a function of its own:

1. ``remove_control``   C0/C1 controls, format characters (zero-width space/joiner, BOM,
                        soft hyphen, bidi marks), private-use and unassigned code points,
                        variation selectors and Hangul fillers. Tabs/newlines become spaces.
2. ``normalize_unicode`` NFKC (full-width forms, ligatures, compatibility characters) with
                        Hangul jamo handled sensibly: plain NFKC turns compatibility jamo
                        (ㄱ U+3131) into conjoining jamo (U+1100), so "ㅎㅏ" would silently
                        become "하" and "ㅋㅋ" into invisible-ish conjoining letters. We keep
                        compatibility jamo as they are, map half-width Hangul letters to
                        them, and map conjoining jamo left over after NFKC (ones that do not
                        compose into a syllable) to their compatibility forms. Typographic
                        quotes and dashes fold to ASCII.
3. ``strip_markup``     HTML comments, script/style blocks, tags, entities (unescaped
                        repeatedly, so double-escaped ``&amp;lt;b&amp;gt;`` goes too), URLs.
4. ``mask_pii``         optional: e-mail addresses -> [EMAIL], phone numbers (Korean
                        mobile/landline/VoIP/representative numbers, +82) -> [PHONE].
5. ``filter_chars``     keep Hangul (syllables and compatibility jamo), Latin letters,
                        digits, sentence punctuation and a few symbols that carry meaning
                        (% / & + # @ ~ · ₩ $ €); optionally Hanja. Everything else
                        (emoji, pictographs, other scripts, box drawing, ...) becomes a space.
6. ``fold_repeats``     runs of one non-digit character longer than 3 -> 3 (ㅋㅋㅋㅋㅋ -> ㅋㅋㅋ,
                        !!!!! -> !!!); digits are never folded (1000000 stays).
7. ``fold_whitespace`` / ``tidy_punctuation``: one space, no space before closing
                        punctuation, no empty brackets.

Filters: ``length_ok`` (characters), ``hangul_word_ratio`` (share of words that contain
Hangul, robust to Latin words being longer than Hangul ones), ``repetition_ratio`` (share
of repeated words: spam such as "광고 광고 광고 ...").

Deduplication: exact (md5 of the cleaned text) and near-duplicate: MinHash over character
shingles of the text with whitespace removed (so Korean spacing variants collide), LSH
banding for candidates, verified by the signatures' Jaccard estimate; clusters are
connected components and keep their longest member.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np

# --------------------------------------------------------------------------- Hangul tables

HANGUL_SYLLABLES = (0xAC00, 0xD7A3)
COMPAT_JAMO = (0x3131, 0x318E)  # ㄱ .. ㆎ (U+3164 is the filler)
HANGUL_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0"}
_CONJOINING_RANGES = ((0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))


def _build_jamo_tables() -> tuple[dict[str, str], dict[str, str]]:
    conj_to_compat: dict[str, str] = {}
    for cp in range(COMPAT_JAMO[0], COMPAT_JAMO[1] + 1):
        ch = chr(cp)
        if ch in HANGUL_FILLERS:
            continue
        decomposed = unicodedata.normalize("NFKC", ch)
        if len(decomposed) == 1 and decomposed != ch:
            conj_to_compat.setdefault(decomposed, ch)
    halfwidth_to_compat: dict[str, str] = {}
    for cp in range(0xFFA1, 0xFFDD):
        ch = chr(cp)
        decomposed = unicodedata.normalize("NFKC", ch)
        if decomposed in conj_to_compat:
            halfwidth_to_compat[ch] = conj_to_compat[decomposed]
    return conj_to_compat, halfwidth_to_compat


CONJOINING_TO_COMPAT, HALFWIDTH_TO_COMPAT = _build_jamo_tables()


def is_hangul_syllable(ch: str) -> bool:
    return HANGUL_SYLLABLES[0] <= ord(ch) <= HANGUL_SYLLABLES[1]


def is_compat_jamo(ch: str) -> bool:
    return COMPAT_JAMO[0] <= ord(ch) <= COMPAT_JAMO[1] and ch not in HANGUL_FILLERS


def is_hangul(ch: str) -> bool:
    return is_hangul_syllable(ch) or is_compat_jamo(ch)


def _is_conjoining(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CONJOINING_RANGES)


# --------------------------------------------------------------------------- 1. controls

_SPACE_CONTROLS = {"\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029"}


def remove_control(text: str) -> str:
    """Drop control/format/private/unassigned characters; line breaks and tabs become spaces."""
    out = []
    for ch in text:
        if ch in _SPACE_CONTROLS:
            out.append(" ")
            continue
        if ch in HANGUL_FILLERS:
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cs", "Cn"):
            continue
        cp = ord(ch)
        if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # variation selectors
            continue
        out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------- 2. Unicode

_TRANSLATE = str.maketrans(
    {
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\u300c": '"', "\u300d": '"', "\u300e": '"',
        "\u300f": '"', "\u300a": '"', "\u300b": '"', "\u3008": '"', "\u3009": '"',
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u0060": "'",
        "\u00b4": "'",
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-", "\u30fc": "-",
        "\u301c": "~", "\u223c": "~",
        "\u30fb": "\u00b7", "\u2027": "\u00b7", "\u2022": "\u00b7", "\u318d": "\u318d",
        "\u3001": ",", "\u3002": ".",
    }
)


def _nfkc_keep_jamo(run: str) -> str:
    normalized = unicodedata.normalize("NFKC", run)
    if not any(_is_conjoining(c) for c in normalized):
        return normalized
    # Conjoining jamo that did not compose into a syllable: show them as the letters
    # people type (compatibility jamo) instead of combining marks.
    return "".join(CONJOINING_TO_COMPAT.get(c, c) if _is_conjoining(c) else c for c in normalized)


def normalize_unicode(text: str) -> str:
    """NFKC that leaves Hangul compatibility jamo alone (see the module docstring)."""
    out: list[str] = []
    run: list[str] = []
    for ch in text:
        if is_compat_jamo(ch) or ch in HALFWIDTH_TO_COMPAT:
            if run:
                out.append(_nfkc_keep_jamo("".join(run)))
                run = []
            out.append(HALFWIDTH_TO_COMPAT.get(ch, ch))
        else:
            run.append(ch)
    if run:
        out.append(_nfkc_keep_jamo("".join(run)))
    return "".join(out).translate(_TRANSLATE)


# --------------------------------------------------------------------------- 3. markup

_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_SCRIPT = re.compile(r"<(script|style|noscript|iframe|svg)\b[^>]*>.*?(?:</\1\s*>|$)", re.S | re.I)
_BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|ul|ol|tr|td|th|h[1-6]|table|section|article|blockquote|hr)\b[^<>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:_-]*(?:\s[^<>]*)?/?>|<![A-Za-z][^<>]*>|<\?[^<>]*\?>")
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"']+", re.I)


def _strip_tags(text: str) -> str:
    text = _COMMENT.sub(" ", text)
    text = _SCRIPT.sub(" ", text)
    text = _BLOCK_TAG.sub(" ", text)
    return _TAG.sub("", text)


def strip_markup(text: str, *, drop_urls: bool = True) -> str:
    """Remove HTML (tags, comments, script/style) and decode entities; drop URLs."""
    for _ in range(3):  # entities can hide tags (&lt;b&gt;) or other entities (&amp;nbsp;)
        stripped = _strip_tags(text)
        unescaped = html.unescape(stripped)
        if unescaped == text:
            break
        text = unescaped
    text = _strip_tags(text)
    if drop_urls:
        text = _URL.sub(" ", text)
    return text


# --------------------------------------------------------------------------- 4. PII

EMAIL_TOKEN = "[EMAIL]"
PHONE_TOKEN = "[PHONE]"

EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_SEP = r"[-. ]?"
PHONE_RE = re.compile(
    r"(?<![\d+])"
    r"(?:"
    # +82 / 82 country code, optional (0), then the area/mobile prefix without its 0
    r"(?:\+82|\b82)[-. ]?(?:\(0\))?[-. ]?(?:1[016789]|2|[3-6][1-5]|70)"
    r"|"
    # domestic: 010, 011, 016-019, 02, 031..064, 070, 050x, 080; area code may be in ()
    r"\(?0(?:1[016789]|2|[3-6][1-5]|70|50\d|80)\)?"
    r")"
    rf"{_SEP}\d{{3,4}}{_SEP}\d{{4}}(?!\d)"
    r"|"
    # representative numbers (대표번호) 15xx/16xx/18xx-xxxx, not a year range like 1600-1700년
    r"(?<![\d-])1(?:5[4-9]\d|6[0-9]\d|8[0-9]\d)-\d{4}(?![\d-])(?!\s*년)"
)


@dataclass
class PiiCounts:
    emails: int = 0
    phones: int = 0


def mask_pii(text: str, counts: Optional[PiiCounts] = None) -> str:
    """Replace e-mail addresses with [EMAIL] and phone numbers with [PHONE]."""
    counts = counts if counts is not None else PiiCounts()
    text, n = EMAIL_RE.subn(EMAIL_TOKEN, text)
    counts.emails += n
    text, n = PHONE_RE.subn(PHONE_TOKEN, text)
    counts.phones += n
    return text


# --------------------------------------------------------------------------- 5. characters

SENTENCE_PUNCT = set(".,!?'\"()[]-:;~")
MEANINGFUL_SYMBOLS = set("%/&+#@_\u00b7\u20a9$\u20ac")  # · ₩ $ €
_LATIN_EXTRA = ((0x00C0, 0x00D6), (0x00D8, 0x00F6), (0x00F8, 0x024F))
_HANJA = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF))
_PLACEHOLDER = re.compile(r"(\[(?:EMAIL|PHONE)\])")


def is_latin_letter(ch: str) -> bool:
    if ("a" <= ch <= "z") or ("A" <= ch <= "Z"):
        return True
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _LATIN_EXTRA)


def is_hanja(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _HANJA)


def allowed_char(ch: str, *, keep_hanja: bool = False) -> bool:
    if ch == " " or ch.isascii() and ch.isalnum():
        return True
    if is_hangul(ch) or is_latin_letter(ch):
        return True
    if ch in SENTENCE_PUNCT or ch in MEANINGFUL_SYMBOLS:
        return True
    return keep_hanja and is_hanja(ch)


def filter_chars(text: str, *, keep_hanja: bool = False) -> str:
    """Replace every character that is not allowed with a space ([EMAIL]/[PHONE] survive)."""
    parts = _PLACEHOLDER.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 1:  # a placeholder
            out.append(f" {part} ")
        else:
            out.append("".join(ch if allowed_char(ch, keep_hanja=keep_hanja) else " " for ch in part))
    return "".join(out)


# --------------------------------------------------------------------------- 6./7. folding

_WS = re.compile(r"\s+")
_SPACE_BEFORE_CLOSE = re.compile(r"\s+([.,!?;:)\]])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\"\s*\"|''")
_LEADING_JUNK = re.compile(r"^[\s.,;:!?·/&+#_-]+(?=\S)")


def fold_repeats(text: str, max_repeat: int = 3) -> str:
    """Runs of one non-digit, non-space character longer than max_repeat -> max_repeat."""
    if max_repeat <= 0:
        return text
    pattern = re.compile(r"([^\d\s])\1{%d,}" % max_repeat)
    return pattern.sub(lambda m: m.group(1) * max_repeat, text)


def fold_whitespace(text: str) -> str:
    return _WS.sub(" ", text).strip()


def tidy_punctuation(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _EMPTY_BRACKETS.sub(" ", text)
        text = _SPACE_BEFORE_CLOSE.sub(r"\1", text)
        text = _SPACE_AFTER_OPEN.sub(r"\1", text)
        text = fold_whitespace(text)
    # A line that starts with stray punctuation left by removed markup/emoji ("· 항목").
    text = _LEADING_JUNK.sub("", text)
    # ... but a lone closing quote or bracket at the start is junk as well.
    return text.strip()


# --------------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class CleanConfig:
    mask_pii: bool = True
    keep_hanja: bool = False
    drop_urls: bool = True
    max_repeat: int = 3

    @classmethod
    def from_params(cls, params: dict) -> "CleanConfig":
        return cls(
            mask_pii=bool(params.get("mask_pii", True)),
            keep_hanja=bool(params.get("keep_hanja", False)),
            drop_urls=bool(params.get("drop_urls", True)),
            max_repeat=int(params.get("max_repeat", 3)),
        )


@dataclass
class CleanResult:
    text: str
    emails: int = 0
    phones: int = 0


def clean_text(text: str, config: CleanConfig = CleanConfig()) -> CleanResult:
    """The whole cleaning chain for one document (see the module docstring)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = remove_control(text)
    text = normalize_unicode(text)
    text = strip_markup(text, drop_urls=config.drop_urls)
    text = remove_control(normalize_unicode(text))  # entities may have produced new ones
    counts = PiiCounts()
    if config.mask_pii:
        text = mask_pii(text, counts)
    text = filter_chars(text, keep_hanja=config.keep_hanja)
    text = fold_repeats(text, config.max_repeat)
    text = fold_whitespace(text)
    text = tidy_punctuation(text)
    text = fold_repeats(text, config.max_repeat)  # tidying can join runs ("... ." -> "....")
    return CleanResult(text, counts.emails, counts.phones)


# --------------------------------------------------------------------------- filters


def length_ok(text: str, min_chars: int = 10, max_chars: int = 2000) -> bool:
    n = len(text)
    return min_chars <= n <= max_chars


def hangul_word_ratio(text: str) -> float:
    """Share of the words that carry letters which contain at least one Hangul character."""
    words = [w for w in _PLACEHOLDER.sub(" ", text).split() if any(c.isalpha() for c in w)]
    if not words:
        return 0.0
    return sum(1 for w in words if any(is_hangul(c) for c in w)) / len(words)


def repetition_ratio(text: str, min_words: int = 8) -> float:
    """Share of the words that repeat an earlier word (0 for texts shorter than min_words):
    "광고 광고 광고 ..." -> close to 1, ordinary prose -> small."""
    words = text.split()
    if len(words) < min_words:
        return 0.0
    return 1.0 - len(set(words)) / len(words)


# --------------------------------------------------------------------------- dedup


def text_md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def shingles(text: str, k: int = 5) -> set[str]:
    """Character k-shingles of the lower-cased text without whitespace."""
    compact = "".join(text.lower().split())
    if len(compact) <= k:
        return {compact} if compact else set()
    return {compact[i : i + k] for i in range(len(compact) - k + 1)}


_MERSENNE = np.uint64((1 << 31) - 1)


@dataclass(frozen=True)
class MinHasher:
    """MinHash with universal hashing h(x) = (a*x + b) mod (2^31-1), x = crc32(shingle)."""

    num_perm: int = 64
    k: int = 5
    seed: int = 1
    _a: np.ndarray = field(init=False, repr=False, compare=False)
    _b: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rng = np.random.RandomState(self.seed)
        prime = int(_MERSENNE)
        object.__setattr__(self, "_a", rng.randint(1, prime, size=self.num_perm, dtype=np.int64).astype(np.uint64))
        object.__setattr__(self, "_b", rng.randint(0, prime, size=self.num_perm, dtype=np.int64).astype(np.uint64))

    def signature(self, text: str) -> np.ndarray:
        grams = shingles(text, self.k)
        if not grams:
            return np.full(self.num_perm, int(_MERSENNE), dtype=np.uint64)
        x = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))
        x %= _MERSENNE
        hashed = (self._a[:, None] * x[None, :] + self._b[:, None]) % _MERSENNE
        return hashed.min(axis=1)


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def signature_similarity(a: Sequence[int], b: Sequence[int]) -> float:
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    return float(np.mean(a_arr == b_arr))


def band_keys(signature: Sequence[int], bands: int) -> list[str]:
    """LSH band keys of a signature: documents sharing any key are candidate pairs."""
    sig = np.asarray(signature, dtype=np.uint64)
    if len(sig) % bands:
        raise ValueError(f"num_perm {len(sig)} is not divisible by bands {bands}")
    rows = len(sig) // bands
    return [f"{b}:{sig[b * rows:(b + 1) * rows].tobytes().hex()}" for b in range(bands)]


def bucket_pairs(
    members: Sequence[tuple[str, Sequence[int]]], threshold: float
) -> list[tuple[str, str, float]]:
    """Verified similar pairs within one LSH bucket: (key_a, key_b, similarity).

    Each member is compared with the bucket's first member and with its predecessor
    (linear in the bucket size; connected components recover the rest).
    """
    found: list[tuple[str, str, float]] = []
    if len(members) < 2:
        return found
    ordered = sorted(members, key=lambda m: m[0])
    seen: set[tuple[str, str]] = set()
    first_key, first_sig = ordered[0]
    for i in range(1, len(ordered)):
        for other_key, other_sig in ((first_key, first_sig), ordered[i - 1]):
            key = ordered[i][0]
            pair = (other_key, key)
            if other_key == key or pair in seen:
                continue
            seen.add(pair)
            sim = signature_similarity(other_sig, ordered[i][1])
            if sim >= threshold:
                found.append((other_key, key, sim))
    return found


def clusters_from_pairs(pairs: Iterable[tuple[str, str]], lengths: dict[str, int]) -> dict[str, str]:
    """Connected components of similar pairs -> {dropped key: kept key}.

    Each component keeps its longest member (ties: the smallest key), so the result does
    not depend on the order pairs were found in.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    components: dict[str, list[str]] = {}
    for key in list(parent):
        components.setdefault(find(key), []).append(key)
    dropped: dict[str, str] = {}
    for members in components.values():
        if len(members) < 2:
            continue
        keep = min(members, key=lambda k: (-lengths.get(k, 0), k))
        for key in members:
            if key != keep:
                dropped[key] = keep
    return dropped


def near_duplicates(
    items: Iterable[tuple[str, int, Sequence[int]]],
    *,
    bands: int = 16,
    threshold: float = 0.7,
) -> dict[str, str]:
    """Near-duplicate clusters by MinHash LSH, in memory (the preprocess stage does the
    same with Ray Data: band keys -> groupby -> bucket_pairs -> clusters_from_pairs).

    items: (key, length, signature). Returns {dropped key: kept key}.
    """
    buckets: dict[str, list[tuple[str, Sequence[int]]]] = {}
    lengths: dict[str, int] = {}
    for key, length, sig in items:
        lengths[key] = int(length)
        for band in band_keys(sig, bands):
            buckets.setdefault(band, []).append((key, sig))
    pairs = []
    for members in buckets.values():
        pairs.extend((a, b) for a, b, _ in bucket_pairs(members, threshold))
    return clusters_from_pairs(pairs, lengths)
